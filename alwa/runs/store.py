"""The result store of a sweep: one JSON record per finished run (``{key}.json``), one per failed run
(``{key}.failed.json``), read defensively (an unreadable file is named and counted as missing), matched to the specs
that asked for them (a record made with another spec is stale)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Iterable, Optional, Sequence

from alwa.core.experiment import RunRecord, RunSpec, run_key

SpecLike = "RunSpec | dict"  # a RunSpec, or the mapping it writes (RunSpec.to_dict); the runner needs only name and seed


def spec_key(spec) -> str:
    """File-name key of a spec (a :class:`RunSpec` or its mapping): ``{name}__s{seed}``."""
    if isinstance(spec, RunSpec):
        return spec.key
    return run_key(spec["name"], spec.get("seed", 0))


def spec_dict(spec) -> dict:
    """The mapping a spec is written as (in its record, and to a run's process): :meth:`RunSpec.to_dict`."""
    return spec.to_dict() if isinstance(spec, RunSpec) else dict(spec)


# ------------------------------------------------------------------ reading result files
def read_record(path, kind: str = "result") -> tuple[Optional[dict], Optional[str]]:
    """``(record, None)`` for a readable record, ``(None, problem)`` otherwise.

    A result needs to be a JSON object with a ``name`` that passes :func:`record_problem`; a failure record
    (``kind='failure'``) a JSON object with a ``spec`` object."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        return None, f"cannot be read ({e.strerror or e})"
    if not text.strip():
        return None, "is empty"
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as e:
        return None, f"is not valid JSON (truncated?) at line {e.lineno} column {e.colno}"
    if not isinstance(rec, dict):
        return None, f"holds {'null' if rec is None else type(rec).__name__}, not a record"
    if kind == "failure":
        if not isinstance(rec.get("spec"), dict) or "name" not in rec["spec"]:
            return None, "is a failure record without a spec"
    elif not isinstance(rec.get("name"), str):
        return None, "is a record without a name"
    elif "spec" in rec and not isinstance(rec["spec"], dict):
        return None, "has a spec that is not an object"
    else:
        problem = record_problem(rec, p.name)
        if problem:
            return None, problem
    return rec, None


NUMERIC_FIELDS = ("wall_seconds", "train_seconds")  # optional; numbers where present


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def record_problem(rec: dict, file_name: Optional[str] = None) -> Optional[str]:
    """What makes a run record *bad* (None if nothing): ``mAP`` missing, not a number, not finite or outside [0, 1]
    (a fraction, not a percentage); ``seed`` missing or not a whole number; a name that is not its file's key
    (``{name}__s{seed}.json``); ``iters`` not a whole number; a timing field that is not a number; an ALWA record
    without ``final_weights``, or ``final_weights`` that are not finite weights; ``fingerprints`` that are not a
    mapping of hash strings. A bad record
    is counted as missing (so a sweep runs it again) and named by :func:`result_problems`."""
    m = rec.get("mAP")
    if "mAP" not in rec or m is None:
        return "is a record without mAP"
    if not _number(m):
        return f"has mAP {m!r} ({type(m).__name__}), not a number"
    if not math.isfinite(m):
        return f"has mAP {m}, not a finite number"
    if not 0.0 <= m <= 1.0:
        return f"has mAP {m}, outside [0, 1] (a fraction; {m} looks like a percentage)" if 1 < m <= 100 else f"has mAP {m}, outside [0, 1]"
    seed = rec.get("seed")
    if seed is None:
        return "is a record without a seed"
    if not isinstance(seed, int) or isinstance(seed, bool):
        return f"has seed {seed!r} ({type(seed).__name__}), not a whole number"
    if file_name is not None and file_name != f"{run_key(rec['name'], seed)}.json":
        return f"holds the record of {run_key(rec['name'], seed)}, not of its file's key {file_name[:-5]}"
    if "iters" in rec and (not isinstance(rec["iters"], int) or isinstance(rec["iters"], bool)):
        return f"has iters {rec['iters']!r}, not a whole number"
    for k in NUMERIC_FIELDS:
        if k in rec and not (_number(rec[k]) and math.isfinite(rec[k])):
            return f"has {k} {rec[k]!r}, not a number"
    fw = rec.get("final_weights")
    if fw is None and _ALWA.search(rec["name"]):
        return "is an ALWA record without final_weights (the weights it ended with)"
    if fw is not None and not (isinstance(fw, list) and fw and all(_number(w) and math.isfinite(w) and w > 0 for w in fw)):
        return f"has final_weights {fw!r}, not a list of finite weights > 0"
    fp = rec.get("fingerprints")
    if fp is not None and not isinstance(fp, dict):
        return f"has fingerprints {fp!r:.60} ({type(fp).__name__}), not a mapping"
    for k in ("init_state", "pretrained", "data", "setting_version"):
        v = (fp or {}).get(k)
        if v is not None and not isinstance(v, str):
            return f"has fingerprints.{k} {v!r:.60} ({type(v).__name__}), not a hash string"
    return None


_ALWA = re.compile(r"_alwa[12](?:_|$)")


def result_problems(out_dir) -> list[str]:
    """One line per unreadable result or failure file in ``out_dir`` (each counted as missing)."""
    out = Path(out_dir)
    lines = []
    for p in sorted(out.glob("*.json")) if out.is_dir() else []:
        kind = "failure" if p.name.endswith(".failed.json") else "result"
        _, problem = read_record(p, kind)
        if problem:
            lines.append(f"{p}: {problem}; counted as missing (rerun the sweep to replace it, or delete it)")
    return lines


def _same_spec(a, b) -> bool:
    """Specs match when everything but where the work files go is equal."""
    strip = lambda s: {k: v for k, v in spec_dict(s).items() if k != "work_root"}  # noqa: E731
    return json.dumps(strip(a), sort_keys=True) == json.dumps(strip(b), sort_keys=True)


def pending(specs: Sequence, out_dir) -> list:
    """Specs without a (readable) result file, or whose result was made with a different
    spec (stale: e.g. the profile's settings changed). Duplicates removed, order kept."""
    out = Path(out_dir)
    seen, todo = set(), []
    for s in specs:
        k = spec_key(s)
        if k in seen:
            continue
        seen.add(k)
        f = out / f"{k}.json"
        if not f.exists():
            todo.append(s)
            continue
        rec, _ = read_record(f)
        old = rec.get("spec") if rec else None
        if old is None or not _same_spec(old, s):
            todo.append(s)
    return todo


# ------------------------------------------------------------------ loading
def _wanted(spec, wanted: dict) -> bool:
    """``spec`` is one of ``wanted`` (``{spec_key: spec}``): same key and same spec."""
    other = wanted.get(spec_key(spec))
    return other is not None and _same_spec(spec, other)


def load_results(out_dir, specs: Optional[Iterable] = None) -> list[RunRecord]:
    """The readable result records in ``out_dir`` (only those of ``specs`` if given), each read once into a
    :class:`RunRecord`; unreadable files are left out (:func:`result_problems` names them)."""
    out = Path(out_dir)
    if specs is not None:
        specs = list(specs)
        keys = [spec_key(s) for s in specs]
        files = [out / f"{k}.json" for k in dict.fromkeys(keys)]
        wanted = {spec_key(s): s for s in specs}
        loaded = [read_record(p)[0] for p in files if p.exists()]
        return [RunRecord(r) for r in loaded if r is not None and ("spec" not in r or _wanted(r["spec"], wanted))]
    recs = (read_record(p)[0] for p in sorted(out.glob("*.json")) if not p.name.endswith(".failed.json"))
    return [RunRecord(r) for r in recs if r is not None]


def of_specs(records: Iterable, specs: Iterable) -> list:
    """The ``records`` (already loaded) that belong to ``specs``: same key and same spec."""
    wanted = {spec_key(s): s for s in specs}
    return [r for r in records if "spec" in r and _wanted(r["spec"], wanted)]


def load_failures(out_dir) -> list[dict]:
    """The readable failure records in ``out_dir``."""
    recs = (read_record(p, "failure")[0] for p in sorted(Path(out_dir).glob("*.failed.json")))
    return [r for r in recs if r is not None]
