"""A profile's parameters (``notebooks/params/{smoke,cpu,gpu}.yaml``): loaded, checked, and refused
before any work when a key is unknown (at any level: the top level, ``setting``, ``faster_setting``,
``dataset``, ``pretrain``, ``paper``), of the wrong type or out of range. Every error names the key
(``setting.iter``) and, for an unknown key, the closest known one.

:func:`load_profile` is the one way in: the sweep and status commands, the book build and the notebooks
all call it, so a typo cannot be dropped by one of them and kept by another.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from alwa.core.experiment import BACKBONES, DATASETS, REG_LOSSES
from alwa.core.settings import MiniSetting, MiniVOCOptions, PretrainOptions



PROFILES = ("smoke", "cpu", "gpu", "gpu-mini")


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    return profile


def results_dir(root, profile: str, part: str) -> Path:
    """``root/profile/part``, created."""
    p = Path(root) / check_profile(profile) / part
    p.mkdir(parents=True, exist_ok=True)
    return p


class ProfileError(ValueError):
    """A profile's parameters are not usable; the message names the key."""


# ------------------------------------------------------------------ checkers: (key path, value) -> value
def _type_name(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def int_(lo: Optional[int] = None) -> Callable:
    def check(key, v):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ProfileError(f"{key} must be a whole number, got {v!r} ({_type_name(v)})")
        if lo is not None and v < lo:
            raise ProfileError(f"{key} must be >= {lo}, got {v}")
        return v
    return check


def float_(positive: bool = False) -> Callable:
    def check(key, v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ProfileError(f"{key} must be a finite number, got {v!r} ({_type_name(v)})")
        if positive and v <= 0:
            raise ProfileError(f"{key} must be > 0, got {v}")
        return v
    return check


def str_(choices: Optional[tuple] = None) -> Callable:
    def check(key, v):
        if not isinstance(v, str):
            raise ProfileError(f"{key} must be a string, got {v!r} ({_type_name(v)})")
        if choices is not None and v not in choices:
            raise ProfileError(f"{key} must be one of {list(choices)}, got {v!r}")
        return v
    return check


def bool_(key, v):
    if not isinstance(v, bool):
        raise ProfileError(f"{key} must be true or false, got {v!r} ({_type_name(v)})")
    return v


def optional(check: Callable) -> Callable:
    return lambda key, v: None if v is None else check(key, v)


def list_(item: Callable, nonempty: bool = False) -> Callable:
    def check(key, v):
        if not isinstance(v, (list, tuple)):
            raise ProfileError(f"{key} must be a list (e.g. [a, b]), got {v!r} ({_type_name(v)})")
        if nonempty and not v:
            raise ProfileError(f"{key} must not be empty")
        return [item(f"{key}[{i}]", x) for i, x in enumerate(v)]
    return check


def pair_(key, v):
    if not isinstance(v, str) or v.count(":") != 1:
        raise ProfileError(f"{key} must be a weight pair 'cls:reg' such as '0.50:0.75', got {v!r}")
    for part in v.split(":"):
        try:
            f = float(part)
        except ValueError:
            raise ProfileError(f"{key} must be a weight pair 'cls:reg' of numbers, got {v!r}") from None
        if not (math.isfinite(f) and f > 0):
            raise ProfileError(f"{key}: weights must be > 0, got {v!r}")
    return v


def _from_annotation(ann) -> Callable:
    """A checker for a dataclass field's annotation (int, float, bool, str, tuple, Optional[...])."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Union and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return optional(_from_annotation(rest[0]) if len(rest) == 1 else (lambda k, v: v))
    if ann is bool:
        return bool_
    if ann is int:
        return int_()
    if ann is float:
        return float_()
    if ann is str:
        return str_()
    if ann is tuple or origin is tuple:
        items = [a for a in args if a is not Ellipsis]
        item = _from_annotation(items[0]) if items and len(set(items)) == 1 else (lambda k, v: v)
        return list_(item)
    return lambda k, v: v


def dataclass_(cls, what: str) -> Callable:
    """A mapping whose keys are ``cls``'s fields, each checked against its annotation."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: _from_annotation(hints[f.name]) for f in dataclasses.fields(cls)}
    return mapping(fields, what)


def mapping(schema: dict, what: str) -> Callable:
    def check(key, v):
        if v is None:
            v = {}
        if not isinstance(v, dict):
            raise ProfileError(f"{key} must be a mapping ({what}), got {v!r} ({_type_name(v)})")
        return {k: schema[k](f"{key}.{k}", x) for k, x in _known(v, schema, key, what).items()}
    return check


def _known(d: dict, schema: dict, where: str, what: str) -> dict:
    for k in d:
        if k not in schema:
            close = difflib.get_close_matches(str(k), list(schema), n=1, cutoff=0.5)
            hint = f"; did you mean {(where + '.' if where else '') + close[0]!r}?" if close else ""
            raise ProfileError(f"unknown key {(where + '.' if where else '') + str(k)!r} ({what}){hint} "
                               f"Known: {', '.join(sorted(schema))}")
    return d


def _mini_schemas() -> dict:
    """The nested mappings' schemas: MiniSetting, MiniVOCOptions, PretrainOptions (:mod:`alwa.core.settings`)."""
    return {"slurm": mapping(SLURM_KEYS, "SLURM options of --executor slurm"),
            "setting": dataclass_(MiniSetting, "alwa.mmdet.configs.MiniSetting fields"),
            "faster_setting": dataclass_(MiniSetting, "MiniSetting fields for Faster R-CNN"),
            "dataset": dataclass_(MiniVOCOptions, "alwa.data.synthetic.MiniVOCOptions fields"),
            "pretrain": dataclass_(PretrainOptions, "alwa.mmdet.pretrain.PretrainOptions fields")}


def any_mapping(key, v):
    if not isinstance(v, dict):
        raise ProfileError(f"{key} must be a mapping, got {v!r} ({_type_name(v)})")
    return v


# --executor slurm (submitit): where and how long each run's job may run
SLURM_KEYS = {"partition": optional(str_()), "time_min": int_(1), "gpus_per_job": int_(0), "cpus_per_job": int_(1),
              "mem_gb": optional(int_(1)), "account": optional(str_()), "extra": any_mapping}
SEEDS = int_(1)
TOP: dict = {
    "profile": str_(PROFILES), "seed": int_(0), "results_root": str_(), "work_root": str_(),
    "workers": int_(1), "threads": int_(1), "devices": optional(list_(int_(0), nonempty=True)), "runs_per_device": int_(1), "max_runs": optional(int_(0)),
    "slurm": None,
    "bs_n_gt": int_(1), "bs_shifts_per_gt": int_(1), "bs_slide_points": int_(2), "bs_grid_points": int_(2),
    "data": str_(DATASETS), "backbone": str_(BACKBONES), "data_dir": str_(), "data_root": optional(str_()),
    "dataset": None, "pretrain": None, "setting": None, "faster_setting": None,
    "paper": mapping({"gpus": int_(1), "batch_per_gpu": int_(1), "auto_scale_lr": bool_}, "paper_config keywords"),
    "curve_window": int_(2), "grid_losses": list_(str_(REG_LOSSES)), "grid_pairs": list_(pair_), "grid_seeds": SEEDS,
    "alwa_losses": list_(str_(REG_LOSSES)), "retina_seeds": SEEDS, "faster_seeds": SEEDS,
    "abl_losses": list_(str_(REG_LOSSES)), "abl_C": list_(int_(2)), "abl_init": list_(float_(positive=True)), "abl_seeds": SEEDS,
    "bench_blocks": int_(1), "bench_steps": int_(1),
}
REQUIRED = ("profile",)


def validate(params: Any, source: str = "parameters") -> dict:
    """Check a profile's parameters (a mapping as read from YAML); returns a checked copy."""
    if params is None:
        raise ProfileError(f"{source} is empty: expected a mapping of a profile's parameters (see notebooks/params/cpu.yaml)")
    if not isinstance(params, dict):
        raise ProfileError(f"{source} must be a mapping of parameters, got {_type_name(params)}")
    schema = dict(TOP)
    schema.update(_mini_schemas())
    _known(params, schema, "", f"a parameter of {source}")
    for k in REQUIRED:
        if k not in params:
            raise ProfileError(f"{source} has no {k!r}")
    out = {k: schema[k](k, v) for k, v in params.items()}
    data = out.get("data", "mini")
    if data == "mini" and "data_dir" not in out:
        raise ProfileError(f"{source}: data 'mini' needs data_dir (where this profile's synthetic set lives); "
                           "without it the profile would use, or regenerate, another profile's data")
    if data in ("voc", "coco") and not out.get("data_root"):
        raise ProfileError(f"{source}: data {data!r} needs data_root (the dataset's folder)")
    return out


PARAMS_DIR = Path("notebooks") / "params"


def params_path(profile: str, root=".") -> Path:
    """``root/notebooks/params/{profile}.yaml``: a profile's parameters file in a checkout (``root``: the current folder)."""
    if profile not in PROFILES:
        raise ProfileError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    return Path(root) / PARAMS_DIR / f"{profile}.yaml"


def load_profile(profile: str, params_file=None, results_root=None, max_runs: Optional[int] = None,
                 overrides: Optional[dict] = None) -> dict:
    """The checked parameters of ``profile``: from ``params_file`` (default ``notebooks/params/{profile}.yaml`` below the
    current folder),
    with ``overrides`` (any keys, checked like the file's) and the results root / run cap of the caller."""
    path = Path(params_file) if params_file else params_path(profile)
    try:
        text = path.read_text()
    except OSError as e:
        where = "" if params_file else " (run from the repository's root folder, or name the file with --params)"
        raise ProfileError(f"cannot read the parameters file {path}: {e.strerror or e}{where}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ProfileError(f"{path} is not valid YAML: {e}") from None
    if raw is None:
        raise ProfileError(f"{path} is empty: expected a mapping of the profile's parameters")
    if isinstance(raw, dict) and raw.get("profile") not in (None, profile):
        raise ProfileError(f"{path} is for profile {raw.get('profile')!r}, not {profile!r}")
    if overrides:
        if not isinstance(overrides, dict):
            raise ProfileError(f"overrides must be a mapping of parameters, got {_type_name(overrides)}")
        raw = {**raw, **overrides}
    if results_root is not None:
        raw["results_root"] = str(results_root)
    if max_runs is not None:
        raw["max_runs"] = max_runs
    return validate(raw, str(path))
