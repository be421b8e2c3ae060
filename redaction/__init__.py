"""Redaction: secrets are removed from every collected byte before it is written."""

from redaction.engine import RedactionStream, Redactor

__all__ = ["RedactionStream", "Redactor"]
