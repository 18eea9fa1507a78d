"""The run specs of the training notebooks, per profile: which experiments and seeds each part runs, how far a
profile's sweep is, and the archive of a replaced calibration.
Specs are plain dicts for :mod:`alwa.runs.sweep` (no mmdet import here). A profile's
parameters (``notebooks/params/{smoke,cpu,gpu}.yaml``, injected by papermill)
pick the scale: ``data: mini`` + ``backbone: r18w16`` (smoke, cpu) or
``data: voc`` + ``backbone: r50`` (gpu, the paper's configs).
"""

from __future__ import annotations

import math
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Optional

import yaml

from alwa.core.experiment import PAPER_C, Experiment, RunSpec
from alwa.runs.profile import Profile
from alwa.runs.store import load_failures, load_results, pending, spec_key

TABLE1_PAIRS = ["0.10:0.10", "0.25:0.25", "0.25:0.50", "0.50:0.25", "0.50:0.50", "0.50:0.75",
                "0.75:0.50", "0.75:0.75", "1.50:1.50", "2.00:2.00"]
LOSS_NAMES = {"l1": "L1", "smoothl1": "SmoothL1", "ciou": "CIoU", "giou": "GIoU"}


def setting_c(p: Profile, detector: str) -> Optional[int]:
    """ALWA's window C the profile's setting gives a name without ``_C`` (None: the paper's 100)."""
    return p.mini_setting(detector).interval if p.data == "mini" else None


def experiment_of(p: Profile, detector: str, loss: str, weighting: str = "base", *, pair: Optional[str] = None,
                  interval: Optional[int] = None, init: float = 1.0, lr: Optional[float] = None,
                  iters: Optional[int] = None, clip: bool = True, detrend: bool = False,
                  name_setting_values: bool = False) -> Experiment:
    """The one way to make a profile's :class:`Experiment` (its backbone and data).

    ``weighting``: base | alwa1 | alwa2, or a pair 'cls:reg' (also as ``pair``); ``interval``/``init`` for ALWA;
    ``lr``/``iters``/``clip``/``detrend`` as in the name. A value equal to the setting's is left out of the name
    (a window equal to the setting's C, and, unless ``name_setting_values``, an lr or schedule equal to the
    setting's), so the published runs keep their keys. Faster and Mask R-CNN use R-50 where the profile names
    R-101 (the paper's tables)."""
    bb = p.backbone
    if detector != "retinanet" and bb == "r101":
        bb = "r50"
    if pair is None and ":" in weighting:
        pair = weighting
    own = setting_c(p, detector)
    if interval is not None and int(interval) == (PAPER_C if own is None else own):
        interval = None  # the setting's own C: the name without _C
    if not name_setting_values:
        st = p.mini_setting(detector)
        if lr is not None and math.isclose(lr, st.lr, rel_tol=1e-9):
            lr = None
        if iters is not None and int(iters) == st.iters:
            iters = None
    return Experiment.of(detector, bb, p.data, loss, weighting, pair=pair, interval=interval, init=init,
                         lr=None if lr is None else float(f"{lr:.6g}"), iters=None if iters is None else int(iters),
                         clip=clip, detrend=detrend)


def make_spec(p: Profile, experiment: Experiment, seed: int) -> RunSpec:
    """The :class:`RunSpec` of one run of ``experiment`` under the profile."""
    # one work folder per profile: a smoke run never appends to the log of a cpu run of the same name
    s = {"work_root": str(Path(p.work_root) / p.profile)}
    if p.data == "mini":
        # faster_setting: two-stage-only knobs, kept out of RetinaNet's specs (and their staleness)
        setting = p.setting_for("retinanet" if experiment.detector == "retinanet" else "two-stage")
        s.update(data_dir=p.data_dir, dataset=p.dataset, pretrain=p.pretrain, setting=setting)
    else:
        s.update(data_root=p.data_root, paper=p.paper)
    return RunSpec(experiment, int(seed), s)


def grid_specs(p: Profile) -> list[RunSpec]:
    """Table 1: RetinaNet, 1:1 plus every weight pair, for each regression loss."""
    pairs = p.grid_pairs or TABLE1_PAIRS
    out = []
    for loss in p.grid_losses:
        for pair in ["1.00:1.00", *pairs]:
            for seed in p.seeds(p.grid_seeds):
                out.append(make_spec(p, experiment_of(p, "retinanet", loss, pair=pair), seed))
    return out


def alwa_specs(p: Profile) -> list[RunSpec]:
    """Tables 2 and 3: baseline / ALWA-1 / ALWA-2 for RetinaNet and Faster R-CNN (ALWA in the RPN)."""
    out = []
    for det, n in (("retinanet", p.retina_seeds), ("faster-rcnn", p.faster_seeds)):
        for loss in p.alwa_losses:
            for w in ("base", "alwa1", "alwa2"):
                for seed in p.seeds(n):
                    out.append(make_spec(p, experiment_of(p, det, loss, w), seed))
    return out


def ablation_specs(p: Profile) -> list[RunSpec]:
    """Tables 7 and 8: Faster R-CNN ALWA-2 with C in abl_C and initial weights in abl_init (+ baselines)."""
    out = []
    for loss in p.abl_losses:
        for seed in p.seeds(p.abl_seeds):
            out.append(make_spec(p, experiment_of(p, "faster-rcnn", loss, "base"), seed))
            for c in p.abl_C:
                out.append(make_spec(p, experiment_of(p, "faster-rcnn", loss, "alwa2", interval=int(c)), seed))
            for w in p.abl_init:
                out.append(make_spec(p, experiment_of(p, "faster-rcnn", loss, "alwa2", init=float(w)), seed))
    return out


# ------------------------------------------------------------------ the sweep of a profile, without the notebooks
PARTS = {"alwa": alwa_specs, "grid": grid_specs, "ablation": ablation_specs}


def profile_specs(p: Profile, parts: Iterable[str] = ("alwa", "grid", "ablation")) -> list[RunSpec]:
    """The specs of the training notebooks, in an order that makes partial results
    useful: part by part, RetinaNet before Faster R-CNN, then seed by seed (every
    configuration of seed 0 before any of seed 1), duplicates removed."""
    out, seen = [], set()
    for part in parts:
        specs = PARTS[part](p)
        order = sorted(range(len(specs)), key=lambda k: (specs[k].experiment.detector != "retinanet", specs[k].seed, k))
        for k in order:
            key = spec_key(specs[k])
            if key not in seen:
                seen.add(key)
                out.append(specs[k])
    return out


def sweep_status(p: Profile, out_dir, parts: Iterable[str] = ("alwa", "grid", "ablation"), workers: Optional[int] = None) -> dict:
    """How far a profile's sweep is, from its result files.

    For each part (runs shared between parts are counted in the first) and in
    total: ``planned``, ``done``, ``failed`` (a failure record, no result),
    ``compute_s`` (sum of the finished runs' wall seconds) and ``remaining_s``
    (pending runs x the mean wall seconds of finished runs of the same
    detector; None where no run of that detector has finished). ``wall_h`` and
    ``remaining_wall_h`` divide by ``workers`` (default: the profile's)."""
    workers = int(workers or p.workers)
    specs = profile_specs(p, parts)
    detector_of = {s.key: s.experiment.detector for s in specs}
    done = {spec_key(r["spec"]): r for r in load_results(out_dir, specs) if "spec" in r}
    failed = {spec_key(f["spec"]) for f in load_failures(out_dir)}
    todo = {spec_key(s) for s in pending(specs, out_dir)}
    per_det: dict = defaultdict(list)
    for r in done.values():
        per_det[r.experiment.detector].append(float(r.get("wall_seconds", 0.0)))
    mean_wall = {d: sum(v) / len(v) for d, v in per_det.items()}
    rows, seen = {}, set()
    for part in parts:
        keys = [k for k in dict.fromkeys(spec_key(s) for s in PARTS[part](p)) if k not in seen]
        seen.update(keys)
        rem = [mean_wall.get(detector_of[k]) for k in keys if k in todo]
        rows[part] = {"planned": len(keys), "done": sum(k in done and k not in todo for k in keys),
                      "failed": sum(k in failed and k in todo for k in keys),
                      "compute_s": sum(float(done[k].get("wall_seconds", 0.0)) for k in keys if k in done and k not in todo),
                      "remaining_s": None if any(x is None for x in rem) else sum(rem)}
    total = {k: sum(r[k] for r in rows.values()) for k in ("planned", "done", "failed", "compute_s")}
    rems = [r["remaining_s"] for r in rows.values()]
    total["remaining_s"] = None if any(x is None for x in rems) else sum(rems)
    for r in list(rows.values()) + [total]:
        r["wall_h"] = r["compute_s"] / workers / 3600
        r["remaining_wall_h"] = None if r["remaining_s"] is None else r["remaining_s"] / workers / 3600
    return {"parts": rows, "total": total, "workers": workers, "mean_wall_s": mean_wall}


ARCHIVED_PARTS = ("runs", "claims", "tables", "figures")


def archive_results(p: Profile, results_root, name: str, params_file=None) -> Path:
    """Move a profile's training results (``runs/``, ``claims/``, ``tables/``, ``figures/``) to
    ``<results_root>/archive/<name>/`` with the parameters they were made with (``params.yaml``).

    For a re-calibration: run it before changing the profile's parameters, or the
    sweep would take the old results for stale ones and overwrite them. Box-shifting
    results and the train-step benchmark stay (they do not depend on the training
    setting, or are measured again by the next book build). ``params.yaml`` is a verbatim copy of ``params_file`` (comments
    kept) if given, else ``p`` written out. Returns the archive folder."""
    src = Path(results_root) / p.profile
    dest = Path(results_root) / "archive" / name
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"archive name must be a plain folder name, got {name!r}")
    if dest.exists():
        raise FileExistsError(f"{dest} exists: choose another name")
    have = [part for part in ARCHIVED_PARTS if (src / part).is_dir() and any((src / part).iterdir())]
    if "runs" not in have:
        raise FileNotFoundError(f"no run results in {src / 'runs'}: nothing to archive")
    dest.mkdir(parents=True)
    if params_file is not None:
        shutil.copyfile(params_file, dest / "params.yaml")
    else:
        params = {k: v for k, v in p.as_dict().items() if k not in ("results_root", "max_runs")}
        (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for part in have:
        shutil.move(str(src / part), str(dest / part))
    return dest
