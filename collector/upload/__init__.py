"""Delivering bundles to the vendor: ``sftp://`` drop boxes (resumable) and ``https://`` PUT, with receipts."""

from collector.upload.receipt import Receipt
from collector.upload.run import UploadRequest, upload
from collector.upload.target import Credentials, Target, apply_credentials, parse_target

__all__ = ["Credentials", "Receipt", "Target", "UploadRequest", "apply_credentials", "parse_target", "upload"]
