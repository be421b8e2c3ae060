"""``collect --resume``: what is left to collect, read from the run records of earlier bundles.

Only the records (``<bundle>.status.json``) are read, never the bundles, so an earlier bundle
encrypted to the vendor can be completed by the customer who wrote it. For every host, the records
are replayed oldest first:

- a host that ``failed`` (never reached) is left to collect entirely, unless an earlier record
  already narrowed it down;
- a host reached (``ok`` / ``partial``) is left with exactly its problems that count as failures
  (``missing``, ``denied``, ``failed``, ``timed_out``, ``interrupted``; not optional ones), by
  ``(probe, artifact)`` and, for file artifacts, the files that failed — so a resumed run collects
  those files only, and an artifact already ``ok`` is neither collected nor sent again;
- given a case-set directory of sharded records (``--shard I/N``), a host of the inventory whose
  shard has no record there at all (its runner never finished) is collected entirely. A single
  shard's bundle resumes that shard only.

Hosts are matched by ``target`` (how this customer reached them), never by their bundle name, so
pseudonymized bundles resume too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from collector.bundle import runrecord
from collector.defaults import FAILED
from collector.errors import InputError
from collector.fleet.shard import Shard, shard_from_record, shard_of
from collector.hosts.target import HostTarget
from collector.plan import HostPlan, Task

WHOLE = None  # pending: the whole host / the whole artifact


@dataclass
class Pending:
    """What is left on one host: ``None`` = everything; else ``{(probe, artifact): files or None}``."""

    artifacts: dict[tuple[str, str], set[str] | None] | None = WHOLE
    probes: set[str] = field(default_factory=set)  # probes whose discovery failed: all their tasks

    @property
    def empty(self) -> bool:
        return self.artifacts is not None and not self.artifacts and not self.probes

    def describe(self) -> str:
        if self.artifacts is None:
            return "the whole host"
        return f"{len(self.artifacts) + len(self.probes)} artifact(s)"


@dataclass
class Prior:
    """The earlier runs of one case, as their records tell."""

    records: list[tuple[Path, dict[str, Any]]]  # (bundle path, record), oldest first
    pending: dict[str, Pending]  # by target
    shards: list[Shard | None]
    whole_set: bool = False  # a case-set directory was given: its shards are all the case has

    @property
    def newest(self) -> dict[str, Any]:
        return self.records[-1][1]

    @property
    def rerun(self) -> dict[str, Any]:
        return self.records[0][1].get("rerun") or {}

    @property
    def case_id(self) -> str | None:
        return next((r.get("case_id") for _, r in self.records if r.get("case_id")), None)

    @property
    def resume_of(self) -> list[dict[str, str]]:
        return [{"bundle": str(r["bundle"]), "sha256": str(r["sha256"])} for _, r in self.records]

    @property
    def window(self) -> dict[str, Any]:
        return self.records[0][1].get("window") or {}

    @property
    def case(self) -> dict[str, str]:
        return {k: str(v) for k, v in (self.records[0][1].get("case") or {}).items() if isinstance(k, str)}

    @property
    def shard(self) -> dict[str, Any] | None:
        """The resumed bundle's ``shard``: the earlier one when all agree, else none."""
        kinds = set(self.shards)
        if len(kinds) != 1 or None in kinds or self.may_miss_shards:
            return None
        return next(iter(kinds)).describe()  # type: ignore[union-attr]

    @property
    def bundle_dir(self) -> Path:
        return self.records[0][0].parent

    @property
    def until(self) -> float | None:
        """The first run's window end: a resumed run gives commands the same window."""
        text = self.window.get("until")
        try:
            return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() if text else None
        except ValueError:
            return None

    @property
    def may_miss_shards(self) -> bool:
        """Sharded I/N records without every index: hosts of the missing shards are left too."""
        counts = {s.count for s in self.shards if s is not None and s.count}
        taken = {s.index for s in self.shards if s is not None and s.index}
        return self.whole_set and len(counts) == 1 and None not in self.shards and len(taken) < next(iter(counts))

    def left(self) -> dict[str, Pending]:
        return {t: p for t, p in self.pending.items() if not p.empty}

    def hosts(self, selected: list[HostTarget]) -> list[HostTarget]:
        """The hosts with something left, in inventory order; hosts of a shard no record covers, entirely."""
        left = self.left()
        counts = {s.count for s in self.shards if s is not None and s.count}
        taken = {s.index for s in self.shards if s is not None and s.index}
        known = set(self.pending)
        out = []
        for t in selected:
            if t.name in left:
                out.append(t)
            elif t.name not in known and self.may_miss_shards and shard_of(t.name, next(iter(counts))) not in taken:
                self.pending[t.name] = Pending()
                out.append(t)
        return out

    def summary(self, targets: list[HostTarget], most: int = 5) -> str:
        """``r2: 1 artifact(s); r3: the whole host`` (at most ``most`` hosts named)."""
        parts = [f"{t.name}: {self.pending[t.name].describe()}" for t in targets[:most]]
        more = f"; and {len(targets) - most} more host(s)" if len(targets) > most else ""
        return "; ".join(parts) + more

    def keep_tasks(self, host_plan: HostPlan) -> None:
        """After discovery: only the tasks left on this host; file artifacts narrowed to the files that failed."""
        pending = self.pending.get(host_plan.target.name, Pending())
        if pending.artifacts is None:
            return
        kept: list[Task] = []
        for task in host_plan.tasks:
            files = pending.artifacts.get((task.probe, task.artifact.name), ())
            if task.probe in pending.probes or files is None:
                kept.append(task)
            elif files:
                kept.append(replace(task, artifact=replace(task.artifact, paths=tuple(sorted(files)),
                                                           first_match=False)))
        host_plan.tasks[:] = kept


def load(paths: list[str]) -> Prior:
    """The records of the given bundles, record files or case-set directories. One-line errors."""
    found: dict[Path, dict[str, Any]] = {}
    whole_set = False
    for text in paths:
        path = Path(text)
        if path.is_dir():
            whole_set = True
            files = sorted(path.glob(f"*{runrecord.SUFFIX}"))
            if not files:
                raise InputError(f"--resume {text}: no run record (*{runrecord.SUFFIX}) in that directory",
                                 hint="records stay where `collect` wrote them (a case set never holds them): "
                                      "give those bundles")
        elif path.exists() or Path(text + runrecord.SUFFIX).exists():
            files = [path]
        else:
            raise InputError(f"--resume {text}: no such bundle, record or directory")
        for f in files:
            record = runrecord.read_record(f)
            bundle = (f.with_name(f.name[: -len(runrecord.SUFFIX)]) if f.name.endswith(runrecord.SUFFIX) else f)
            found[bundle.resolve()] = record
    records = sorted(found.items(), key=lambda kv: (str(kv[1].get("created")), kv[0].name))
    ids = {r.get("case_id") for _, r in records if r.get("case_id")}
    if len(ids) > 1:
        raise InputError(f"--resume: the records belong to different cases ({', '.join(sorted(map(str, ids)))})")
    return Prior(records, replay(records), [_shard(r) for _, r in records], whole_set)


def _shard(record: dict[str, Any]) -> Shard | None:
    try:
        return shard_from_record(record.get("shard"))
    except InputError:
        return None


def replay(records: list[tuple[Path, dict[str, Any]]]) -> dict[str, Pending]:
    """Per host (by target): what is still not collected after all these runs."""
    state: dict[str, Pending] = {}
    for _, record in records:
        # pseudonymized paths name no real file: narrow to whole artifacts only
        narrow = not (record.get("rerun") or {}).get("pseudonymize")
        for host in record.get("hosts", []):
            target = str(host.get("target") or host["name"])
            if host.get("status") == "failed":
                state.setdefault(target, Pending())
                continue
            pending = Pending(artifacts={})
            for p in host.get("problems") or []:
                if not isinstance(p, dict) or p.get("status") not in FAILED or p.get("optional"):
                    continue
                probe, artifact, source = str(p.get("probe")), str(p.get("artifact")), p.get("source")
                if artifact == "discover":
                    pending.probes.add(probe)
                    continue
                key = (probe, artifact)
                assert pending.artifacts is not None
                if not narrow or not _a_file(source) or pending.artifacts.get(key, set()) is None:
                    pending.artifacts[key] = None
                else:
                    pending.artifacts.setdefault(key, set()).add(str(source))  # type: ignore[union-attr]
            state[target] = pending
    return state


def _a_file(source: object) -> bool:
    """One file's path (a per-file problem), not the artifact's glob list or command."""
    return isinstance(source, str) and source.startswith("/") and " " not in source and not any(
        c in source for c in "*?[")


def earlier_pseudonyms(prior: Prior) -> tuple[dict[str, str], bytes | None]:
    """pseudonym → value from the earlier runs' mapping files (``--mapping``, else ``<bundle>.mapping.json``),
    and the per-run pseudonym key saved there, if pseudonyms are keyed and no case key made them."""
    from redaction import pseudonym

    out: dict[str, str] = {}
    key = None
    for bundle, record in prior.records:
        if not (record.get("rerun") or {}).get("pseudonymize"):
            continue
        path = Path((record.get("rerun") or {}).get("mapping") or f"{bundle}.mapping.json")
        try:
            out.update(pseudonym.load_mapping(path))
            load_key = getattr(pseudonym, "load_run_key", None)  # keyed pseudonyms (case sets)
            key = key or (load_key(path) if load_key is not None else None)
        except (OSError, ValueError, KeyError, AssertionError) as exc:
            raise InputError(f"--resume: cannot read the first run's pseudonym mapping {path} "
                             f"({type(exc).__name__})",
                             hint="the resumed bundle must use the same pseudonyms: keep the mapping beside "
                                  "the bundle") from None
    return out, key


def seed_pseudonyms(pseudonymizer: Any, mapping: dict[str, str]) -> None:
    """Give every value the pseudonym it had in the earlier bundles (new values continue the numbering)."""
    if pseudonymizer is None or not mapping:
        return
    with pseudonymizer._lock:  # noqa: SLF001 - one seam until pseudonyms come from a case key
        for pseudo, real in mapping.items():
            pseudonymizer._forward[real.encode()] = pseudo.encode()  # noqa: SLF001
            counts = getattr(pseudonymizer, "_counts", None)
            kind, _, number = pseudo.rpartition("-")
            if counts is not None and number.isdigit():
                counts[kind] = max(counts.get(kind, 0), int(number))
