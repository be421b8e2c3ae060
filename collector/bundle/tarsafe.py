"""The tar side of ``casepack open``: headers parsed without trusting them, member names checked.

``tarfile`` would read a pax or GNU long-name header whole into memory and would expand
sparse members (GNU type ``S`` and pax ``GNU.sparse.*``) into holes the size check never
saw. :class:`SafeTarInfo` refuses all of that while the header is parsed, before a byte
of the member is read.
"""

from __future__ import annotations

import tarfile

from collector.bundle.verify import VerificationError

MAX_META = 1 << 20  # pax / GNU long-name headers are read into memory by tarfile: cap them
SPARSE = "GNU.sparse."


def _no_sparse(what: str) -> VerificationError:
    return VerificationError(f"the archive holds a sparse member ({what}); casepack bundles never do, "
                             "nothing extracted")


class SafeTarInfo(tarfile.TarInfo):
    """Refuses oversize metadata headers and every form of sparse member while parsing."""

    def _proc_pax(self, tarfile):  # type: ignore[no-untyped-def,override]
        if self.size > MAX_META:
            raise VerificationError(f"tar pax header of {self.size} bytes is larger than allowed ({MAX_META})")
        nxt = super()._proc_pax(tarfile)
        if any(str(k).startswith(SPARSE) for k in (*nxt.pax_headers, *tarfile.pax_headers)):
            raise _no_sparse("pax GNU.sparse headers")
        return nxt

    def _proc_gnulong(self, tarfile):  # type: ignore[no-untyped-def,override]
        if self.size > MAX_META:
            raise VerificationError(f"tar long-name header of {self.size} bytes is larger than allowed")
        return super()._proc_gnulong(tarfile)

    def _proc_sparse(self, tarfile):  # type: ignore[no-untyped-def,override]
        raise _no_sparse("GNU tar type 'S'")

    def _proc_gnusparse_00(self, *args):  # type: ignore[no-untyped-def,override]
        raise _no_sparse("pax GNU.sparse 0.0")

    def _proc_gnusparse_01(self, *args):  # type: ignore[no-untyped-def,override]
        raise _no_sparse("pax GNU.sparse 0.1")

    def _proc_gnusparse_10(self, *args):  # type: ignore[no-untyped-def,override]
        raise _no_sparse("pax GNU.sparse 1.0")


def check_not_sparse(info: tarfile.TarInfo) -> None:
    """Second line of defence, on the parsed member: no sparse map, type or header survives."""
    if (info.type == tarfile.GNUTYPE_SPARSE or getattr(info, "sparse", None) is not None
            or any(str(k).startswith(SPARSE) for k in info.pax_headers)):
        raise _no_sparse(f"member {info.name!r}")


def member_name(info: tarfile.TarInfo) -> str:
    """The member's path, normalised; refuses absolute, ``..``, empty and NUL-holding names."""
    name = info.name
    while name.startswith("./"):
        name = name[2:]
    parts = name.rstrip("/").split("/") if name else []
    if (not parts or name.startswith("/") or "\0" in name
            or any(p in ("", ".", "..") for p in parts)):
        raise VerificationError(f"unsafe member name {info.name!r} (absolute, '..' or empty); nothing extracted")
    return "/".join(parts)
