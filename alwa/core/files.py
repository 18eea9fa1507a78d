"""Files every layer writes: atomic JSON writes, provenance records, advisory file locks (stdlib and torch only)."""

from __future__ import annotations

import contextlib

import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from alwa.core import __version__

def _default(o: Any):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "as_dict"):
        return o.as_dict()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json_atomic(path, data: Any) -> Path:
    """Write JSON to a temporary file in the same folder, then rename: readers
    never see a half-written file, and a killed writer leaves no result."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, default=_default, allow_nan=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a result file is as readable as any other
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def read_json(path) -> Any:
    return json.loads(Path(path).read_text())


SAME_REL = 1e-6  # two floats closer than this (relative) are one number: another CPU's rounding, not a new result


def same_result(a, b, rel: float = SAME_REL) -> bool:
    """Whether two results read back from JSON say the same: equal keys, lengths and values, where floats may differ
    by less than ``rel`` (relative; NaN equals NaN). The float sums of one computation differ in their last digits
    between CPUs (vector widths); no number a table or claim shows changes at one part in a million."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_result(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_result(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rel, abs_tol=0.0)
    return type(a) is type(b) and a == b


def write_result(path, data: dict, volatile=("provenance", "seconds")) -> bool:
    """:func:`write_json_atomic` a result (a table, a claim record) unless ``path`` already holds the same result
    (:func:`same_result`), its ``volatile`` keys (when and how fast it was made) aside: a render that changes no
    number changes no file. Returns whether it wrote."""
    path = Path(path)

    def core(d):  # as it reads back (a number key becomes text)
        text = json.dumps({k: v for k, v in d.items() if k not in volatile}, default=_default, allow_nan=True)
        return json.loads(text)

    if path.exists():
        try:
            if same_result(core(json.loads(path.read_text())), core(data)):
                return False
        except (ValueError, AttributeError):  # unreadable or not an object: write it anew
            pass
    write_json_atomic(path, data)
    return True


def provenance() -> dict:
    """Versions and hardware, for every result file."""
    import torch

    info = {
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    for mod in ("torchvision", "mmcv", "mmengine", "mmdet", "numpy"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - optional
            info[mod] = None
    info["alwa"] = __version__
    return info


@contextlib.contextmanager
def file_lock(path):
    """An exclusive advisory lock on ``path`` (created if missing) for the ``with`` block:
    processes that prepare the same data set or checkpoint wait for each other (POSIX)."""
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
