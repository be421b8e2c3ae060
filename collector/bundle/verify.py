"""Verification of an extracted bundle: manifest, per-file hashes, signature, ``.sha256`` sidecar."""

from __future__ import annotations

import json
import re
from pathlib import Path

from collector.bundle import signing
from collector.bundle.manifest import FORMAT
from collector.bundle.schema import problem
from collector.errors import CasepackError

VERIFY_FAILED = 4  # exit status: the bundle is corrupt, tampered with, unsafe or not a bundle


class VerificationError(CasepackError):
    """The bundle must not be trusted: corrupt, tampered with, unsafe, or not a casepack bundle."""

    exit_status = VERIFY_FAILED  # type: ignore[assignment]


def check_manifest(seen: dict[str, tuple[int, str]], manifest_raw: bytes, sig_raw: bytes | None,
            require_signature: bool, trusted: set[str] | None
                   ) -> tuple[dict, signing.Signer | None, list[str]]:
    """Check what was extracted (``{path: (size, sha256)}``) against manifest.json and its signature."""
    try:
        manifest = json.loads(manifest_raw)
    except (ValueError, UnicodeDecodeError):
        raise VerificationError("not a casepack bundle: manifest.json is not JSON") from None
    except RecursionError:
        raise VerificationError("malformed manifest.json: nested too deeply") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        shown = repr(fmt[:40]) if isinstance(fmt, str) else "None" if fmt is None else f"a {type(fmt).__name__}"
        raise VerificationError(f"not a casepack bundle: manifest format is {shown}, expected {FORMAT!r}")
    why = problem(manifest)
    if why:
        raise VerificationError(f"malformed manifest.json: {why}")
    warnings: list[str] = []
    expected: dict[str, tuple[int, str | None]] = {}
    for art in manifest["artifacts"]:
        if art.get("path"):
            expected[str(art["path"])] = (art.get("size"), art.get("sha256"))
    files = manifest.get("files")
    if isinstance(files, dict):
        for path, meta in files.items():
            expected[str(path)] = (meta.get("size"), meta.get("sha256"))
    else:
        warnings.append("the manifest has no `files` list (older casepack): case, index and report not verified")
        for path in ("SUPPORT_CASE.md", "index.sqlite", "redaction-report.json"):
            if path in seen:
                expected[path] = (seen[path][0], seen[path][1])
    extra = sorted(set(seen) - set(expected))
    if extra:
        raise VerificationError(f"{len(extra)} file(s) in the bundle are not in the manifest, e.g. {extra[0]!r}")
    missing = sorted(set(expected) - set(seen))
    if missing:
        raise VerificationError(f"{len(missing)} file(s) listed in the manifest are missing, e.g. {missing[0]!r}")
    for path, (size, sha) in expected.items():
        got_size, got_sha = seen[path]
        if size != got_size or sha != got_sha:
            raise VerificationError(f"{path!r} does not match the manifest (sha256/size differ): "
                                    "the bundle was altered or damaged")
    signer = None
    if sig_raw is not None:
        try:
            signer = signing.verify(sig_raw, manifest_raw)
        except signing.SignatureError as exc:
            raise VerificationError(exc.message) from None
        if trusted is not None and signer.fingerprint not in trusted:
            raise VerificationError(f"the manifest is signed by {signer.fingerprint}, which is not a trusted key")
    elif require_signature or trusted is not None:
        raise VerificationError("the bundle is not signed (--require-signature/--trust)")
    return manifest, signer, warnings


def check_sidecar(bundle: Path, digest: str) -> str:
    """``verified`` or ``absent``; raises when ``<bundle>.sha256`` names another digest."""
    side = bundle.with_name(bundle.name + ".sha256")
    try:
        text = side.read_text()[:4096]
    except (OSError, UnicodeDecodeError):
        return "absent"
    m = re.match(r"([0-9a-fA-F]{64})\s", text)
    if not m:
        return "unreadable"
    if m.group(1).lower() != digest:
        raise VerificationError(f"the bundle's sha256 does not match {side.name}: the file was altered or damaged")
    return "verified"
