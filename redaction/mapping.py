"""The pseudonym mapping file (``casepack-mapping/1``), kept by the customer beside the bundle, and ``unmask``.

``{"format": "casepack-mapping/1", "pseudonyms": {pseudonym: real value}, "key_id": "…"}`` plus
``"run_key"`` (hex) when the run drew a random key, so ``collect --resume`` can reuse it. Written
0600, never into a bundle or a case set.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

# keyed pseudonyms, and the numbered ones (ip-0007) of mappings written before case keys
PSEUDONYM = re.compile(r"\b(?:email|ip|ip6|mac|host|user|name)-(?:[0-9a-f]{16}|\d{4,})\b")


class PseudonymMap(dict[str, str]):
    """pseudonym → real value, plus the id of the key that made it and (a per-run key only) the key."""

    key_id: str | None = None
    key: bytes | None = None


def save_mapping(mapping: dict[str, str], path: str | os.PathLike[str]) -> None:
    """Write the pseudonym → real-value map readable by its owner only (0600, never into the bundle).

    Written to a new file with a random name beside ``path`` (``mkstemp``: ``O_EXCL``, 0600) and renamed
    over ``path``: a symlink or file someone planted there is replaced, never written through.
    Raises ``ValueError`` (one line) when it cannot be written.
    """
    import tempfile

    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ValueError(f"cannot write mapping {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w") as f:
            doc: dict[str, object] = {"format": "casepack-mapping/1", "pseudonyms": mapping}
            if isinstance(mapping, PseudonymMap) and mapping.key_id:
                doc["key_id"] = mapping.key_id  # which key made these pseudonyms (not the key)
                if mapping.key is not None:  # a per-run key: kept here so `collect --resume` can reuse it
                    doc["run_key"] = mapping.key.hex()
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
        if target.is_dir() and not target.is_symlink():
            raise IsADirectoryError(21, "Is a directory")
        os.replace(tmp, target)
    except OSError as exc:
        raise ValueError(f"cannot write mapping {target}: {exc.strerror}") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _mapping_doc(path: str | os.PathLike[str]) -> dict:
    try:
        data = json.loads(Path(path).read_text())
        assert isinstance(data, dict) and isinstance(data["pseudonyms"], dict)
    except OSError as exc:
        raise ValueError(f"cannot read mapping {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AssertionError, RecursionError):
        raise ValueError(f"{path} is not a casepack mapping file") from None
    return data


def load_mapping(path: str | os.PathLike[str]) -> dict[str, str]:
    return {str(k): str(v) for k, v in _mapping_doc(path)["pseudonyms"].items()}


def load_run_key(path: str | os.PathLike[str]) -> bytes | None:
    """The per-run key saved in a mapping file (None when a case key made it): for ``collect --resume``."""
    value = _mapping_doc(path).get("run_key")
    if value is None:
        return None
    try:
        key = bytes.fromhex(str(value))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ValueError(f"{path}: malformed run_key")
    return key


def merge_mappings(paths: Iterable[str | os.PathLike[str]]) -> dict[str, str]:
    """The union of several mapping files (the shards of a set); one pseudonym with two values is an error."""
    merged: dict[str, str] = {}
    where: dict[str, str] = {}
    for path in paths:
        for pseudo, real in load_mapping(path).items():
            if merged.setdefault(pseudo, real) != real:
                raise ValueError(f"{pseudo} stands for different values in {where[pseudo]} and {path}: "
                                 "these mappings cannot be joined")
            where.setdefault(pseudo, str(path))
    return merged


def unmask(text: str, mapping: dict[str, str]) -> str:
    """Replace every pseudonym in ``text`` (a vendor's reply) with the real value."""
    return PSEUDONYM.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
