"""A profile's parameters (``notebooks/params/{smoke,cpu,gpu}.yaml``): loaded, checked, and refused
before any work when a key is unknown (at any level: the top level, ``setting``, ``faster_setting``,
``dataset``, ``pretrain``, ``paper``), of the wrong type or out of range. Every error names the key
(``setting.iter``) and, for an unknown key, the closest known one.

The schema is pydantic's (strict types, bounds, unknown keys forbidden at every level); this module turns its
errors into today's one-line messages and keeps every value exactly as the file gives it (pydantic checks, it does
not convert: a ``10`` stays an int, so run specs and result keys do not change).

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
from typing import Annotated, Any, ClassVar, Literal, Optional

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

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


# ------------------------------------------------------------------ the schema (pydantic types) and its messages
def _type_name(v: Any) -> str:
    return "null" if v is None else type(v).__name__


MAX_COUNT = 10**6  # any count of a profile (points, blocks, steps, workers ...): above it a typo, never a plan
MAX_SEEDS = 1000  # seeds of one part of a sweep


def Int(lo: Optional[int] = None, hi: Optional[int] = MAX_COUNT):
    """A whole number (never a bool, a float or a string) in ``[lo, hi]``."""
    return Annotated[int, Field(strict=True, ge=lo, le=hi)]


Float = Annotated[float, Field(strict=True, allow_inf_nan=False)]  # a finite number (an int is one too)
PositiveFloat = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]
Str = Annotated[str, Field(strict=True)]
Bool = Annotated[bool, Field(strict=True)]
SEEDS = Int(1, MAX_SEEDS)


def _weight_pair(v: Any) -> str:
    if not isinstance(v, str) or v.count(":") != 1:
        raise ValueError(f"must be a weight pair 'cls:reg' such as '0.50:0.75', got {v!r}")
    for part in v.split(":"):
        try:
            f = float(part)
        except ValueError:
            raise ValueError(f"must be a weight pair 'cls:reg' of numbers, got {v!r}") from None
        if not (math.isfinite(f) and f > 0):
            raise ValueError(f": weights must be > 0, got {v!r}")
    return v


WeightPair = Annotated[Any, AfterValidator(_weight_pair)]


def _of_annotation(ann) -> Any:
    """The schema type of a settings dataclass field's annotation (int, float, bool, str, tuple, Optional[...]); a tuple
    is given as a YAML list."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Union and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return Optional[_of_annotation(rest[0])] if len(rest) == 1 else Any
    simple = {bool: Bool, int: Int(), float: Float, str: Str}
    if ann in simple:
        return simple[ann]
    if ann is tuple or origin is tuple:
        items = [a for a in args if a is not Ellipsis]
        return list[_of_annotation(items[0])] if items and len(set(items)) == 1 else list
    return Any


class _Changes(BaseModel):
    """A nested mapping of a profile: only the fields it names, each checked; unknown ones refused."""
    model_config = ConfigDict(extra="forbid")
    what: ClassVar[str] = ""


def _changes_of(cls, what: str) -> type[_Changes]:
    """The schema of a mapping whose keys are the settings dataclass ``cls``'s fields (none required)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: (_of_annotation(hints[f.name]), None) for f in dataclasses.fields(cls)}
    model = create_model(f"{cls.__name__}Changes", __base__=_Changes, **fields)
    model.what = what
    return model


class _Slurm(_Changes):
    """--executor slurm (submitit): where and how long each run's job may run."""
    what: ClassVar[str] = "SLURM options of --executor slurm"
    partition: Optional[Str] = None
    time_min: Int(1) = None
    gpus_per_job: Int(0) = None
    cpus_per_job: Int(1) = None
    mem_gb: Optional[Int(1)] = None
    account: Optional[Str] = None
    extra: dict = None


class _Paper(_Changes):
    what: ClassVar[str] = "paper_config keywords"
    gpus: Int(1) = None
    batch_per_gpu: Int(1) = None
    auto_scale_lr: Bool = None


def _nested(model: type[_Changes]):
    """A mapping field checked by ``model`` (YAML's empty value is the empty mapping)."""
    return Annotated[Optional[model], BeforeValidator(lambda v: {} if v is None else v)]


def _key(loc: tuple) -> str:
    """``('setting', 'iters')`` -> ``setting.iters``; ``('alwa_losses', 1)`` -> ``alwa_losses[1]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(loc: tuple) -> type[BaseModel]:
    model = _SCHEMA
    for part in loc:
        ann = model.model_fields[part].annotation if isinstance(part, str) and part in model.model_fields else None
        nested = [a for a in typing.get_args(ann) if isinstance(a, type) and issubclass(a, _Changes)]
        if not nested:
            break
        model = nested[0]
    return model


def _message(e: dict, source: str) -> str:
    """Today's one-line message for one pydantic error: the key path, what it must be, what it got."""
    kind, loc, got, ctx = e["type"], tuple(e["loc"]), e.get("input"), e.get("ctx") or {}
    key = _key(loc)
    shown = f"{got!r} ({_type_name(got)})"
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = list(model.model_fields)
        where = _key(loc[:-1])
        what = model.what if issubclass(model, _Changes) else f"a parameter of {source}"
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.5)
        hint = f"; did you mean {(where + '.' if where else '') + close[0]!r}?" if close else ""
        return f"unknown key {key!r} ({what}){hint} Known: {', '.join(sorted(known))}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{key} must be a whole number, got {shown}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"{key} must be a finite number, got {shown}"
    if kind == "greater_than_equal":
        return f"{key} must be >= {ctx['ge']}, got {got}"
    if kind == "less_than_equal":
        return f"{key} must be <= {ctx['le']}, got {got}"
    if kind == "greater_than":
        return f"{key} must be > {ctx['gt']:g}, got {got}"
    if kind == "string_type":
        return f"{key} must be a string, got {shown}"
    if kind == "bool_type":
        return f"{key} must be true or false, got {shown}"
    if kind in ("list_type", "tuple_type"):
        return f"{key} must be a list (e.g. [a, b]), got {shown}"
    if kind == "too_short":
        return f"{key} must not be empty"
    if kind == "literal_error":
        return f"{key} must be one of {ctx['expected']}, got {got!r}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        what = _model_at(loc).what if loc else "parameters"
        return f"{key} must be a mapping ({what}), got {shown}"
    if kind == "value_error":  # a check of this module's (a weight pair): its message follows the key
        said = str(ctx.get("error", e["msg"]))
        return f"{key}{said}" if said.startswith(":") else f"{key} {said}"
    return f"{key}: {e['msg']}"


def _check(values: dict, source: Optional[str] = None) -> None:
    """Check a profile's values against the schema; the first problem (unknown keys first, then missing ones, then the
    rest in the order of the fields) as a one-line :class:`ProfileError`, prefixed with ``source`` where given."""
    try:
        _SCHEMA.model_validate(values)
    except ValidationError as err:
        errors = err.errors(include_url=False)
        unknown = [e for e in errors if e["type"] == "extra_forbidden"]
        missing = [e["loc"][0] for e in errors if e["type"] == "missing" and len(e["loc"]) == 1]
        if unknown:
            raise ProfileError(_message(unknown[0], source or "parameters")) from None
        if missing:
            raise ProfileError(f"{source or 'the parameters'} has no {', '.join(repr(m) for m in missing)}") from None
        message = _message(errors[0], source or "parameters")
        raise ProfileError(f"{source}: {message}" if source else message) from None


def _field(schema: Any, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING, doc: str = ""):
    """A :class:`Profile` field: its schema type (a pydantic type), its default (none: required) and what it means."""
    return dataclasses.field(default=default, default_factory=factory, metadata={"schema": schema, "doc": doc})


def _plain(v: Any) -> Any:
    """A checked value as YAML gives it: tuples as lists, the empty value of a mapping as ``{}``; nothing else changes."""
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


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

    profile: str = _field(Literal[PROFILES], doc="smoke | cpu | gpu | gpu-mini")
    seed: int = _field(Int(0), 0, doc="the first seed; a part with n seeds uses seed .. seed + n - 1")
    results_root: str = _field(Str, "results", doc="results go to <results_root>/<profile>/")
    work_root: str = _field(Str, "work_dirs", doc="mmengine work folders go to <work_root>/<profile>/")
    workers: int = _field(Int(1), 1, doc="runs at the same time")
    threads: int = _field(Int(1), 1, doc="torch threads per run")
    devices: Optional[list] = _field(Optional[Annotated[list[Int(0)], Field(min_length=1)]], None, doc="GPU indices; None: CPU")
    runs_per_device: int = _field(Int(1), 1, doc="runs sharing one GPU")
    max_runs: Optional[int] = _field(Optional[Int(0)], None, doc="training runs a notebook may start; None: all, 0: none")
    slurm: dict = _field(_nested(_Slurm), factory=dict)
    # 01 box shifting
    bs_n_gt: int = _field(Int(1), doc="ground-truth boxes of the C1 table")
    bs_shifts_per_gt: int = _field(Int(1))
    bs_slide_points: int = _field(Int(2))
    bs_grid_points: int = _field(Int(2))
    # 02-05 training
    data: str = _field(Literal[DATASETS], "mini")
    backbone: str = _field(Literal[BACKBONES], "r18w16")
    data_dir: Optional[str] = _field(Optional[Str], None, doc="the synthetic set's folder (data: mini; required there)")
    data_root: Optional[str] = _field(Optional[Str], None, doc="the dataset's folder (data: voc | coco; required there)")
    dataset: dict = _field(_nested(_changes_of(MiniVOCOptions, "alwa.data.synthetic.MiniVOCOptions fields")), factory=dict)
    pretrain: dict = _field(_nested(_changes_of(PretrainOptions, "alwa.mmdet.pretrain.PretrainOptions fields")), factory=dict)
    setting: dict = _field(_nested(_changes_of(MiniSetting, "alwa.mmdet.configs.MiniSetting fields")), factory=dict)
    faster_setting: dict = _field(_nested(_changes_of(MiniSetting, "MiniSetting fields for Faster R-CNN")), factory=dict)
    paper: dict = _field(_nested(_Paper), factory=dict)
    curve_window: int = _field(Int(2), doc="iterations per point of the loss curves")
    grid_losses: list = _field(list[Literal[REG_LOSSES]])
    grid_pairs: list = _field(list[WeightPair], doc="weight pairs 'cls:reg' of table 1; []: the paper's")
    grid_seeds: int = _field(SEEDS)
    alwa_losses: list = _field(list[Literal[REG_LOSSES]])
    retina_seeds: int = _field(SEEDS)
    faster_seeds: int = _field(SEEDS)
    abl_losses: list = _field(list[Literal[REG_LOSSES]])
    abl_C: list = _field(list[Int(2)])
    abl_init: list = _field(list[PositiveFloat])
    abl_seeds: int = _field(SEEDS)
    bench_blocks: int = _field(Int(1))
    bench_steps: int = _field(Int(1))

    def __post_init__(self):
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        _check(values)
        for name, v in values.items():
            object.__setattr__(self, name, {} if v is None and name in _MAPPINGS else _plain(v))
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
        _check(params, source)
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


def _schema_of(cls) -> type[BaseModel]:
    """The pydantic model of :class:`Profile`'s fields (unknown keys refused); it checks, the dataclass keeps the values
    as given."""
    fields = {}
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        fields[f.name] = (f.metadata["schema"], ... if required else None)
    return create_model("ProfileSchema", __config__=ConfigDict(extra="forbid"), **fields)


_SCHEMA = _schema_of(Profile)
_MAPPINGS = {f.name for f in dataclasses.fields(Profile) if f.default_factory is dict}  # None given: {}


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
    error naming the key and both lines, never "the last one wins". Merge keys (``<<: *anchor``) work as in YAML: a
    key written beside one overrides the merged value."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # '<<: *anchor': merged by PyYAML below; a key given after it overrides
                continue
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
