"""Shape of ``manifest.json`` as readers rely on it: types checked before any field is used.

A manifest comes from the bundle, so from whoever made the bundle. :func:`problem` returns
one line saying what is wrong (deep nesting, a list where a dict belongs, a size that is a
string, hosts missing), or ``None``. Unknown keys stay allowed (readers ignore them).
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 32  # casepack writes at most ~5 levels; deeper is hostile (RecursionError in readers)
_STR = (str, type(None))
_SCALAR = (str, int, float, bool, type(None))

HOST_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,), "address": _STR, "transport": _STR, "status": _STR, "error": _STR,
    "probes": (list, type(None)), "facts": (dict, type(None)), "duration": (int, float, type(None)),
}
ARTIFACT_FIELDS: dict[str, tuple[type, ...]] = {
    **{k: _STR for k in ("host", "probe", "artifact", "kind", "source", "status", "path", "sha256", "error",
                         "method", "version", "window")},
    "size": (int,), "source_size": (int, type(None)), "exit_code": (int, type(None)),
    "redactions": (dict, type(None)), "check": (dict, type(None)), "notes": (list, type(None)),
    "duration": (int, float, type(None)),
}
CHECK_FIELDS: dict[str, tuple[type, ...]] = {"result": _STR, "message": _STR, "remedy": _STR}
TOP_FIELDS: dict[str, tuple[type, ...]] = {
    "format": (str,), "created": _STR, "status": _STR, "tool": (dict, type(None)), "case": (dict, type(None)),
    "window": (dict, type(None)), "options": (dict, type(None)), "hosts": (list,), "artifacts": (list,),
    "redaction": (dict, type(None)), "files": (dict,),
}
REQUIRED = ("format", "hosts", "artifacts")


def depth(doc: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of ``doc``, counted without recursion; stops counting past ``limit``."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if level > limit:
                return level
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _name(t: tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "an object",
             bool: "true/false", type(None): "null"}
    return " or ".join(names.get(x, x.__name__) for x in t)


def _fields(obj: dict[str, Any], spec: dict[str, tuple[type, ...]], where: str) -> str | None:
    for key, types in spec.items():
        if key not in obj:
            continue
        value = obj[key]
        bad_bool = isinstance(value, bool) and bool not in types  # True is an int in Python, not in JSON
        if bad_bool or not isinstance(value, types):
            return f"{where}.{key} is {type(value).__name__}, expected {_name(types)}"
    return None


def problem(doc: Any) -> str | None:
    """What is wrong with the manifest ``doc`` (one line), or ``None`` when readers can use it."""
    if not isinstance(doc, dict):
        return f"the manifest is a JSON {type(doc).__name__}, not an object"
    if depth(doc) > MAX_DEPTH:
        return f"the manifest is nested deeper than {MAX_DEPTH} levels"
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        return f"the manifest has no {', '.join(missing)}"
    return (_fields(doc, TOP_FIELDS, "manifest") or _hosts(doc["hosts"]) or _artifacts(doc["artifacts"])
            or _files(doc) or _case(doc) or _redaction(doc))


def _hosts(hosts: list[Any]) -> str | None:
    for i, host in enumerate(hosts):
        where = f"manifest.hosts[{i}]"
        why = (f"{where} is not an object" if not isinstance(host, dict)
               else f"{where} has no name" if "name" not in host else _fields(host, HOST_FIELDS, where))
        if why:
            return why
    return None


def _artifacts(arts: list[Any]) -> str | None:
    for i, art in enumerate(arts):
        where = f"manifest.artifacts[{i}]"
        why = (f"{where} is not an object" if not isinstance(art, dict)
               else _fields(art, ARTIFACT_FIELDS, where)
               or (_fields(art["check"], CHECK_FIELDS, f"{where}.check") if art.get("check") else None))
        if why:
            return why
    return None


def _files(doc: dict[str, Any]) -> str | None:
    for path, meta in (doc.get("files") or {}).items():
        if not isinstance(meta, dict):
            return f"manifest.files[{path!r}] is not an object"
        why = _fields(meta, {"size": (int,), "sha256": (str,)}, f"manifest.files[{path!r}]")
        if why:
            return why
    return None


def _case(doc: dict[str, Any]) -> str | None:
    for key, value in (doc.get("case") or {}).items():
        if not isinstance(value, _SCALAR):
            return f"manifest.case[{key!r}] is {type(value).__name__}, expected a string"
    return None


def _redaction(doc: dict[str, Any]) -> str | None:
    red = doc.get("redaction") or {}
    why = _fields(red, {"enabled": (bool, type(None)), "total": (int, type(None)), "files": (dict, type(None))},
                  "manifest.redaction")
    for name, counts in (red.get("files") or {}).items() if not why else ():
        if not isinstance(counts, dict) or not all(isinstance(v, int) for v in counts.values()):
            return f"manifest.redaction.files[{name!r}] is not an object of counts"
    return why
