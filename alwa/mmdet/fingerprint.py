"""Fingerprints of what a seed must fix, recorded with every run (``record['fingerprints']``).

Two runs are a *pair* (the same seed's initial state, the same data, the same first batches, the same setting
version) only when their fingerprints agree; :func:`alwa.core.stats.pair_key` reads them back. They are:

- ``init_state``: sha256 (16 hex digits) of the model's state dict at iteration 0, after the weights are
  initialised and the pre-trained backbone is loaded (taken in ``before_train``, so a resumed run has none);
- ``pretrained``: sha256 of the pre-trained backbone checkpoint's tensors (None without one);
- ``data``: sha256 of the training split's list and its annotation files (the synthetic set's manifest too);
- ``first_batches``: the image ids of the first :data:`FIRST_BATCHES` training batches, in order;
- ``setting_version``: :data:`alwa.core.settings.SETTING_VERSION` (which numerics produced the run);
- ``code``: the package version and, in a git checkout, the commit.

The loss weighting, the lr, the schedule's length and the gradient clipping change none of them; a changed
backbone, pre-training or data set does.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Iterable, Mapping, Optional

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from alwa.core import __version__
from alwa.core.settings import SETTING_VERSION

FIRST_BATCHES = 2


def state_hash(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 (16 hex digits) of a state dict: every entry's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name]
        if not isinstance(t, torch.Tensor):
            continue
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def checkpoint_hash(path: Optional[str]) -> Optional[str]:
    """:func:`state_hash` of a checkpoint's ``state_dict`` (or of the checkpoint itself when it is one)."""
    if not path:
        return None
    ck = torch.load(path, map_location="cpu", weights_only=False)
    return state_hash(ck.get("state_dict", ck) if isinstance(ck, dict) else ck)


def files_hash(paths: Iterable[Path]) -> str:
    """sha256 (16 hex digits) of files' names and contents, in the order given."""
    h = hashlib.sha256()
    for p in paths:
        p = Path(p)
        h.update(p.name.encode() + b"|")
        h.update(p.read_bytes() if p.exists() else b"<missing>")
    return h.hexdigest()[:16]


def voc_data_hash(voc_root, year: str = "VOC2012", split: str = "trainval") -> str:
    """:func:`files_hash` of a VOC-layout split: its id list, every annotation it names and, for the synthetic
    set, its manifest (``mini_voc.json``). Images are not read: the synthetic set's are a function of its manifest."""
    root = Path(voc_root)
    ids_file = root / year / "ImageSets" / "Main" / f"{split}.txt"
    ids = ids_file.read_text().split() if ids_file.exists() else []
    files = [ids_file, root / "mini_voc.json", *(root / year / "Annotations" / f"{i}.xml" for i in ids)]
    return files_hash(files)


def code_version() -> str:
    """``alwa <version>`` and, where the package sits in a git checkout, ``+g<commit>`` (``-dirty`` if changed)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."], cwd=here.parent,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    return f"alwa {__version__}" + (f"+g{commit}{'-dirty' if dirty else ''}" if commit else "")


@HOOKS.register_module()
class FingerprintHook(Hook):
    """Takes the iteration-0 model state's hash and the first batches' image ids of a run (see the module)."""

    priority = "VERY_LOW"

    def __init__(self, first_batches: int = FIRST_BATCHES):
        self.first_batches = int(first_batches)
        self.init_state: Optional[str] = None
        self.batches: list[list] = []

    def before_train(self, runner) -> None:
        if runner.iter == 0:  # a resumed run's state is not its initial state
            model = runner.model.module if hasattr(runner.model, "module") else runner.model
            self.init_state = state_hash(model.state_dict())

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if len(self.batches) < self.first_batches and data_batch is not None:
            self.batches.append([str(s.metainfo.get("img_id", s.metainfo.get("img_path", "?")))
                                 for s in data_batch.get("data_samples", [])])


def fingerprints(hook: FingerprintHook, data_root: Optional[str], pretrained: Optional[str]) -> dict:
    """The record's ``fingerprints`` from a finished run's hook and what the run was built from."""
    return {"init_state": hook.init_state, "pretrained": checkpoint_hash(pretrained),
            "data": voc_data_hash(data_root) if data_root and Path(data_root).exists() else None,
            "first_batches": hook.batches, "setting_version": SETTING_VERSION, "code": code_version()}
