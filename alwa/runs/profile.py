"""A profile's parameters (``notebooks/params/{smoke,cpu,gpu}.yaml``): loaded, checked, and refused
before any work when a key is unknown (at any level: the top level, ``setting``, ``faster_setting``,
``dataset``, ``pretrain``, ``paper``), of the wrong type or out of range. Every error names the key
(``setting.iter``) and, for an unknown key, the closest known one.

:func:`load_profile` is the one way in: the sweep and status commands, the book build and the notebooks
all call it, so a typo cannot be dropped by one of them and kept by another.
"""

from __future__ import annotations

import copy
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


MAX_COUNT = 10**6  # any count of a profile (points, blocks, steps, workers ...): above it a typo, never a plan
MAX_SEEDS = 1000  # seeds of one part of a sweep


def int_(lo: Optional[int] = None, hi: Optional[int] = MAX_COUNT) -> Callable:
    def check(key, v):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ProfileError(f"{key} must be a whole number, got {v!r} ({_type_name(v)})")
        if lo is not None and v < lo:
            raise ProfileError(f"{key} must be >= {lo}, got {v}")
        if hi is not None and v > hi:
            raise ProfileError(f"{key} must be <= {hi}, got {v}")
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


def any_mapping(key, v):
    if not isinstance(v, dict):
        raise ProfileError(f"{key} must be a mapping, got {v!r} ({_type_name(v)})")
    return v


# --executor slurm (submitit): where and how long each run's job may run
SLURM_KEYS = {"partition": optional(str_()), "time_min": int_(1), "gpus_per_job": int_(0), "cpus_per_job": int_(1),
              "mem_gb": optional(int_(1)), "account": optional(str_()), "extra": any_mapping}


def _field(check: Callable, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING, doc: str = ""):
    """A :class:`Profile` field: its checker (key path, value) -> value, its default (none: required) and what it means."""
    return dataclasses.field(default=default, default_factory=factory, metadata={"check": check, "doc": doc})


SEEDS = int_(1, MAX_SEEDS)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Profile:
    """A profile's checked parameters (``notebooks/params/{smoke,cpu,gpu,gpu-mini}.yaml``).

    Constructing one checks every field (:meth:`__post_init__`), so a ``Profile`` is always usable: a wrong type or an
    out-of-range value raises :class:`ProfileError` naming the key. :meth:`from_mapping` (what :func:`load_profile`
    uses) also refuses unknown keys at every level, naming the closest known one.

    The nested mappings ``setting``, ``faster_setting``, ``dataset`` and ``pretrain`` hold only the fields the profile
    *changes* (checked against :class:`~alwa.core.settings.MiniSetting`, :class:`~alwa.core.settings.MiniVOCOptions`
    and :class:`~alwa.core.settings.PretrainOptions`): a run's spec carries exactly those, so the result key and the
    staleness check of the published runs stay as they were. :meth:`setting_for` gives a detector's overrides,
    :meth:`mini_setting` the complete typed setting.
    """

    profile: str = _field(str_(PROFILES), doc="smoke | cpu | gpu | gpu-mini")
    seed: int = _field(int_(0), 0, doc="the first seed; a part with n seeds uses seed .. seed + n - 1")
    results_root: str = _field(str_(), "results", doc="results go to <results_root>/<profile>/")
    work_root: str = _field(str_(), "work_dirs", doc="mmengine work folders go to <work_root>/<profile>/")
    workers: int = _field(int_(1), 1, doc="runs at the same time")
    threads: int = _field(int_(1), 1, doc="torch threads per run")
    devices: Optional[list] = _field(optional(list_(int_(0), nonempty=True)), None, doc="GPU indices; None: CPU")
    runs_per_device: int = _field(int_(1), 1, doc="runs sharing one GPU")
    max_runs: Optional[int] = _field(optional(int_(0)), None, doc="training runs a notebook may start; None: all, 0: none")
    slurm: dict = _field(mapping(SLURM_KEYS, "SLURM options of --executor slurm"), factory=dict)
    # 01 box shifting
    bs_n_gt: int = _field(int_(1), doc="ground-truth boxes of the C1 table")
    bs_shifts_per_gt: int = _field(int_(1))
    bs_slide_points: int = _field(int_(2))
    bs_grid_points: int = _field(int_(2))
    # 02-05 training
    data: str = _field(str_(DATASETS), "mini")
    backbone: str = _field(str_(BACKBONES), "r18w16")
    data_dir: Optional[str] = _field(optional(str_()), None, doc="the synthetic set's folder (data: mini; required there)")
    data_root: Optional[str] = _field(optional(str_()), None, doc="the dataset's folder (data: voc | coco; required there)")
    dataset: dict = _field(dataclass_(MiniVOCOptions, "alwa.data.synthetic.MiniVOCOptions fields"), factory=dict)
    pretrain: dict = _field(dataclass_(PretrainOptions, "alwa.mmdet.pretrain.PretrainOptions fields"), factory=dict)
    setting: dict = _field(dataclass_(MiniSetting, "alwa.mmdet.configs.MiniSetting fields"), factory=dict)
    faster_setting: dict = _field(dataclass_(MiniSetting, "MiniSetting fields for Faster R-CNN"), factory=dict)
    paper: dict = _field(mapping({"gpus": int_(1), "batch_per_gpu": int_(1), "auto_scale_lr": bool_}, "paper_config keywords"),
                         factory=dict)
    curve_window: int = _field(int_(2), doc="iterations per point of the loss curves")
    grid_losses: list = _field(list_(str_(REG_LOSSES)))
    grid_pairs: list = _field(list_(pair_), doc="weight pairs 'cls:reg' of table 1; []: the paper's")
    grid_seeds: int = _field(SEEDS)
    alwa_losses: list = _field(list_(str_(REG_LOSSES)))
    retina_seeds: int = _field(SEEDS)
    faster_seeds: int = _field(SEEDS)
    abl_losses: list = _field(list_(str_(REG_LOSSES)))
    abl_C: list = _field(list_(int_(2)))
    abl_init: list = _field(list_(float_(positive=True)))
    abl_seeds: int = _field(SEEDS)
    bench_blocks: int = _field(int_(1))
    bench_steps: int = _field(int_(1))

    def __post_init__(self):
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, f.metadata["check"](f.name, getattr(self, f.name)))
        if self.data == "mini" and self.data_dir is None:
            raise ProfileError(f"profile {self.profile}: data 'mini' needs data_dir (where this profile's synthetic set lives); "
                               "without it the profile would use, or regenerate, another profile's data")
        if self.data in ("voc", "coco") and not self.data_root:
            raise ProfileError(f"profile {self.profile}: data {self.data!r} needs data_root (the dataset's folder)")

    # ---------------------------------------------------------------- construction
    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(cls, params: Any, source: str = "parameters") -> "Profile":
        """A profile from a mapping as read from YAML; unknown keys (at any level) and missing required ones are refused."""
        if params is None:
            raise ProfileError(f"{source} is empty: expected a mapping of a profile's parameters (see notebooks/params/cpu.yaml)")
        if not isinstance(params, dict):
            raise ProfileError(f"{source} must be a mapping of parameters, got {_type_name(params)}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        _known(params, fields, "", f"a parameter of {source}")
        missing = [n for n, f in fields.items() if n not in params
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise ProfileError(f"{source} has no {', '.join(repr(m) for m in missing)}")
        try:
            return cls(**params)
        except ProfileError as e:
            raise ProfileError(f"{source}: {e}") from None

    def replace(self, **changes) -> "Profile":
        """A copy with ``changes`` (checked, unknown keys refused)."""
        return type(self).from_mapping({**self.as_dict(), **changes}, "changes")

    def as_dict(self) -> dict:
        """Every field, as a YAML mapping (what ``params.yaml`` of an archive holds)."""
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in dataclasses.fields(self)}

    # ---------------------------------------------------------------- derived values
    def setting_for(self, detector: str) -> dict:
        """The :class:`MiniSetting` fields this profile changes for ``detector`` (``faster_setting`` only reaches the
        two-stage detectors); a new dict each call."""
        s = dict(self.setting)
        if detector != "retinanet":
            s.update(self.faster_setting)
        return s

    def mini_setting(self, detector: str = "retinanet") -> MiniSetting:
        """The complete typed setting of ``detector``'s mini runs (defaults + this profile's changes)."""
        return MiniSetting(**self.setting_for(detector))

    def seeds(self, n: int) -> list[int]:
        """``n`` seeds from the profile's first one."""
        return list(range(self.seed, self.seed + int(n)))


def profile_keys() -> tuple[str, ...]:
    """Every top-level key a params file may have."""
    return Profile.keys()


def validate(params: Any, source: str = "parameters") -> Profile:
    """Check a profile's parameters (a mapping as read from YAML); returns the :class:`Profile`."""
    return Profile.from_mapping(params, source)


PARAMS_DIR = Path("notebooks") / "params"


def add_profile_options(parser, default: str = "cpu", results: bool = True, params: bool = True) -> None:
    """The options every command that works on a profile shares: ``--profile``, ``--results`` (the results root)
    and ``--params`` (a parameters file instead of ``notebooks/params/PROFILE.yaml``), one spelling and one help."""
    parser.add_argument("--profile", default=default, help=f"{' | '.join(PROFILES)} (default: {default})")
    if results:
        parser.add_argument("--results", default="results", help="the results root (default: results)")
    if params:
        parser.add_argument("--params", default=None, help="parameters file (default: notebooks/params/PROFILE.yaml)")


def params_path(profile: str, root=".") -> Path:
    """``root/notebooks/params/{profile}.yaml``: a profile's parameters file in a checkout (``root``: the current folder)."""
    if profile not in PROFILES:
        raise ProfileError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    return Path(root) / PARAMS_DIR / f"{profile}.yaml"


class _DuplicateKey(Exception):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping (the top level, a block or a flow mapping) is an
    error naming the key and both lines, never "the last one wins"."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKey(f"the key {key!r} is given twice, on lines {seen[key]} and {line}: keep one")
            seen[key] = line
        return super().construct_mapping(node, deep)


def load_profile(profile: str, params_file=None, results_root=None, max_runs: Optional[int] = None,
                 overrides: Optional[dict] = None) -> Profile:
    """The checked parameters of ``profile``: from ``params_file`` (default ``notebooks/params/{profile}.yaml`` below the
    current folder),
    with ``overrides`` (any keys, checked like the file's) and the results root / run cap of the caller."""
    path = Path(params_file) if params_file else params_path(profile)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        where = "" if params_file else " (run from the repository's root folder, or name the file with --params)"
        raise ProfileError(f"cannot read the parameters file {path}: {e.strerror or e}{where}") from None
    except UnicodeDecodeError as e:
        raise ProfileError(f"{path} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}): "
                           "save it as UTF-8") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader that refuses duplicate keys
    except yaml.YAMLError as e:
        raise ProfileError(f"{path} is not valid YAML: {e}") from None
    except _DuplicateKey as e:
        raise ProfileError(f"{path}: {e}") from None
    if raw is None:
        raise ProfileError(f"{path} is empty: expected a mapping of the profile's parameters")
    if not isinstance(raw, dict):
        raise ProfileError(f"{path} holds a YAML {_type_name(raw) if not isinstance(raw, list) else 'list'}, "
                           "not a mapping of the profile's parameters")
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
