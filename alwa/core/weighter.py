"""Adaptive Loss Weight Adjustment (ALWA) as a plain-PyTorch loss weighter.

The default behaviour is the authors' procedure (paper Algorithm 1, and
``official-implementation.md`` where the algorithm is ambiguous):

* each call sums the per-level losses of each task, multiplies them by the
  weights in force and returns the weighted losses (autograd kept);
* the two per-call sums are recorded; after every ``interval``-th call the
  mean and sample standard deviation (ddof=1) of the *weighted* values of the
  window are computed;
* ALWA-1 compares ``mean + std``, ALWA-2 compares ``std``; if the
  classification statistic ``CLS`` exceeds the regression one ``REG``, the
  classification weight becomes ``1 - (CLS - REG) / CLS`` (= REG / CLS),
  otherwise it is kept; the regression weight never changes;
* the window is emptied and the new weight applies from the next call.

Options beyond the paper (defaults keep the paper's behaviour):

* ``record="raw"`` computes the statistics of the unweighted losses;
* ``update="multiplicative"`` multiplies the weight in force by REG / CLS
  (a cumulative update) instead of replacing it;
* ``stat="detrended"`` measures the window's *fluctuation* rather than its
  trend: the standard deviation is taken around the window's least-squares
  line (residual std, ddof=2: ``sqrt(sum(e^2) / (n - 2))``) instead of its
  mean, so a loss that falls steadily through a window (the warm-up) does not
  count as noisy; ALWA-1 then compares ``mean + residual std``. A residual std
  below ``DETREND_RTOL`` (1e-5) of the window's mean absolute loss counts as 0
  (rounding residue of an exactly linear window), and a window in which either
  task's spread is 0 makes no update;
* ``mode="monitor"`` records the windows (mean/std history) but never
  changes a weight, which is what baselines and fixed-weight runs use to
  draw the paper's figures 3 and 6.

Performance: values are accumulated on the loss's device, so a call that
does not end a window never synchronises host and device; a window end
synchronises once (one device-to-host copy of the window). A call adds one
small copy (its raw per-level losses, stacked) and one multiplication per
level whose weight is not exactly 1; the float64 sums are taken at the
window's end, in one reduction.

Distributed: when ``torch.distributed`` is initialised with more than one
process, the window is averaged over ranks (one ``all_reduce``) before the
statistics are computed, so every rank ends every window with identical
weights, equal to what a single process computes from the rank-averaged
losses.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Sequence, Union

import torch

LossArg = Union[torch.Tensor, Sequence[torch.Tensor]]

MODES = ("alwa1", "alwa2", "monitor")
RECORDS = ("weighted", "raw")
UPDATES = ("replace", "multiplicative")
STATS = ("std", "detrended")
_STATE_VERSION = 1


@dataclass(frozen=True)
class WindowStats:
    """Statistics of one finished window (all Python floats).

    ``*_mean``/``*_std`` are of the recorded values (weighted or raw, see
    ``record``); ``raw_*`` are always of the unweighted losses. ``cls_stat``
    and ``reg_stat`` are the compared quantities (CLS and REG of the paper),
    ``nan`` where undefined. ``cls_weight``/``reg_weight`` are the weights in
    force *after* the window; ``updated`` says whether the rule changed one.
    """

    call: int
    n: int
    cls_mean: float
    cls_std: float
    reg_mean: float
    reg_std: float
    raw_cls_mean: float
    raw_cls_std: float
    raw_reg_mean: float
    raw_reg_std: float
    cls_stat: float
    reg_stat: float
    cls_weight_before: float
    cls_weight: float
    reg_weight: float
    updated: bool

    def as_dict(self) -> dict:
        return asdict(self)


def _empty_window() -> torch.Tensor:
    """(0, 2) float64: a window with no calls yet."""
    return torch.zeros(0, 2, dtype=torch.float64)


def _check_weight(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(f) or f <= 0.0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return f


def _as_levels(name: str, loss: LossArg) -> tuple[list[torch.Tensor], bool]:
    """Return ``(levels, was_list)``; checks every level is a single-element floating tensor (0-d, or shape (1,)
    as SSD's and the DETR family's heads return: the weighted loss keeps its shape, the window records its value)."""
    if isinstance(loss, torch.Tensor):
        levels, was_list = [loss], False
    elif isinstance(loss, (list, tuple)):
        levels, was_list = list(loss), True
        if not levels:
            raise ValueError(f"{name} is an empty list; expected at least one 0-d tensor")
    else:
        raise TypeError(f"{name} must be a 0-d tensor or a list of 0-d tensors, got {type(loss).__name__}")
    for i, t in enumerate(levels):
        where = f"{name}[{i}]" if was_list else name
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{where} must be a torch.Tensor, got {type(t).__name__}")
        if t.numel() != 1:
            raise ValueError(
                f"{where} must be a single-element loss (0-d, or shape (1,) as some mmdet heads return), got shape "
                f"{tuple(t.shape)}; reduce it (e.g. .sum() or .mean()) first"
            )
        if not t.is_floating_point():
            raise TypeError(f"{where} must be a floating-point tensor, got dtype {t.dtype}")
    return levels, was_list


def _dist_world() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    return 1


def _mean_std(x: torch.Tensor) -> tuple[float, float]:
    """Mean and sample std (ddof=1) of a 1-d float64 CPU tensor; nan if undefined."""
    n = x.numel()
    mean = float(x.mean()) if n >= 1 else math.nan
    std = float(x.std(correction=1)) if n >= 2 else math.nan
    return mean, std


DETREND_RTOL = 1e-5  # a residual std below this fraction of the window's mean |loss| is rounding residue: 0


def detrended_std(y: torch.Tensor, t: torch.Tensor, rtol: float = DETREND_RTOL) -> float:
    """Residual standard deviation of ``y`` around its least-squares line in ``t``
    (both 1-d float64, same length n): ``sqrt(sum(e_i^2) / (n - 2))``; nan for n < 3.

    ``t`` is the call index of each value (values left out as non-finite leave gaps). A residual std below
    ``rtol`` times the window's mean absolute value is returned as 0.0: a window whose losses fall exactly
    linearly leaves only rounding residue (float32 losses: about 1e-8 of their level), which is no fluctuation
    and must not set a weight (a window with a zero spread makes no update)."""
    n = y.numel()
    if n < 3:
        return math.nan
    tc = t - t.mean()
    yc = y - y.mean()
    sxx = float((tc * tc).sum())
    slope = float((tc * yc).sum()) / sxx if sxx > 0 else 0.0
    resid = yc - slope * tc
    sd = math.sqrt(max(float((resid * resid).sum()), 0.0) / (n - 2))
    return 0.0 if sd <= rtol * float(y.abs().mean()) else sd


class ALWA:
    """Adaptive loss weighter for a two-task (classification, regression) loss.

    Args:
        mode: ``"alwa1"`` (CLS = mean + std), ``"alwa2"`` (CLS = std, the
            authors' anchor-head default), or ``"monitor"`` (record only).
        interval: window length C in calls (the paper's C = 100); >= 2.
        cls_weight: initial classification weight lambda_cls (> 0).
        reg_weight: regression weight lambda_reg (> 0); never changed.
        record: ``"weighted"`` (authors) or ``"raw"`` statistics.
        update: ``"replace"`` (authors) or ``"multiplicative"``.
        stat: ``"std"`` (authors: the window's std around its mean) or
            ``"detrended"`` (around its least-squares line; interval >= 3).
        distributed: average windows over ranks when ``torch.distributed`` is
            initialised (default True). Set False to keep per-rank weights,
            as the authors' code does.

    Call with ``(cls_loss, reg_loss)``, each a 0-d tensor or a list of 0-d
    tensors (one per feature level, or one per loss term: the two lists may
    differ in length, e.g. GFL's ``loss_bbox`` and ``loss_dfl`` levels against
    ``loss_cls``'s). Returns the weighted losses in the same structure;
    gradients are ``weight * d(raw loss)``. Each task's statistic is of the sum
    of its list.
    """

    def __init__(
        self,
        mode: str = "alwa2",
        interval: int = 100,
        cls_weight: float = 1.0,
        reg_weight: float = 1.0,
        record: str = "weighted",
        update: str = "replace",
        distributed: bool = True,
        stat: str = "std",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        if record not in RECORDS:
            raise ValueError(f"unknown record {record!r}; expected one of {RECORDS}")
        if update not in UPDATES:
            raise ValueError(f"unknown update {update!r}; expected one of {UPDATES}")
        if not isinstance(distributed, bool):
            raise TypeError(f"distributed must be True or False, got {distributed!r}")
        if stat not in STATS:
            raise ValueError(f"unknown stat {stat!r}; expected one of {STATS}")
        if isinstance(interval, bool) or not isinstance(interval, int):
            raise TypeError(f"interval must be an int, got {interval!r}")
        if interval < 2:
            raise ValueError(f"interval must be >= 2 (a window needs two values for a sample std), got {interval}")
        self.mode = mode
        self.interval = interval
        self.record = record
        if stat == "detrended" and interval < 3:
            raise ValueError(f"stat='detrended' needs interval >= 3 (a line and a residual), got {interval}")
        self.update = update
        self.stat = stat
        self.distributed = distributed
        self.initial_cls_weight = _check_weight("cls_weight", cls_weight)
        self.initial_reg_weight = _check_weight("reg_weight", reg_weight)
        self.cls_weight = self.initial_cls_weight
        self.reg_weight = self.initial_reg_weight
        self.calls = 0
        self.nonfinite = 0
        self.history: list[WindowStats] = []
        # the open window: ``_window_sums`` (m, 2) float64 raw (cls, reg) sums restored from a state dict,
        # then ``_window`` with one (2 * levels,) tensor per call (cls levels, then reg levels; raw, detached)
        self._window_sums = _empty_window()
        self._window: list[torch.Tensor] = []
        self._warned_nonfinite = False

    # ------------------------------------------------------------------ calls
    def __call__(self, cls_loss: LossArg, reg_loss: LossArg):
        cls_levels, cls_list = _as_levels("cls_loss", cls_loss)
        reg_levels, reg_list = _as_levels("reg_loss", reg_loss)
        if cls_list != reg_list:
            raise TypeError("cls_loss and reg_loss must both be tensors or both be lists")
        devices = {t.device for t in cls_levels + reg_levels}
        if len(devices) > 1:
            raise ValueError(f"the losses are on several devices {sorted(map(str, devices))}; put them on one")
        if self._window and self._window[-1].device != cls_levels[0].device:
            raise ValueError(
                f"the losses are on {cls_levels[0].device} but the open window holds values from {self._window[-1].device} "
                f"({len(self._window)} calls); keep one device per window (nothing was recorded for this call)"
            )
        wc, wr = self.cls_weight, self.reg_weight
        # a weight of exactly 1 returns the loss itself (same value and gradient, one op less per level)
        cls_out = list(cls_levels) if wc == 1.0 else [wc * t for t in cls_levels]
        reg_out = list(reg_levels) if wr == 1.0 else [wr * t for t in reg_levels]

        with torch.no_grad():  # one copy per call: (2 * levels,) on the loss's device; summed at the window's end
            if len(cls_levels) == len(reg_levels):
                self._window.append(torch.stack([t.reshape(()) for t in cls_levels + reg_levels]))
            else:  # two lists of other lengths: each side summed now, (2,) recorded
                self._window.append(torch.stack([torch.stack([t.reshape(()) for t in side]).sum()
                                                 for side in (cls_levels, reg_levels)]))
        self.calls += 1
        if len(self._window_sums) + len(self._window) >= self.interval:
            self._end_window()
        if cls_list:
            return cls_out, reg_out
        return cls_out[0], reg_out[0]

    @property
    def weights(self) -> tuple[float, float]:
        """``(cls_weight, reg_weight)`` in force for the next call."""
        return self.cls_weight, self.reg_weight

    def _window_values(self) -> torch.Tensor:
        """(n, 2) float64 per-call (cls, reg) sums of the open window, on the device of its last call."""
        live = self._window
        dev = live[-1].device if live else self._window_sums.device
        parts = [self._window_sums.to(dev)] if len(self._window_sums) else []
        if live:
            if len({v.numel() for v in live}) == 1:  # one kernel for the whole window
                parts.append(torch.stack(live).view(len(live), 2, -1).sum(dim=2, dtype=torch.float64))
            else:  # the number of levels changed between calls
                parts += [v.view(2, -1).sum(dim=1, dtype=torch.float64).unsqueeze(0) for v in live]
        return torch.cat(parts) if parts else _empty_window()

    def _end_window(self) -> None:
        vals = self._window_values()  # (n, 2) float64
        self._window_sums, self._window = _empty_window(), []
        world = _dist_world() if self.distributed else 1
        if world > 1:
            torch.distributed.all_reduce(vals, op=torch.distributed.ReduceOp.SUM)
            vals = vals / world
        host = vals.cpu()  # the one host-device synchronisation of a window
        self._apply_window(host)

    def _apply_window(self, host: torch.Tensor) -> None:
        cls_raw, reg_raw = host[:, 0], host[:, 1]
        cls_ok, reg_ok = torch.isfinite(cls_raw), torch.isfinite(reg_raw)
        t = torch.arange(len(host), dtype=torch.float64)
        bad = int((~cls_ok).sum() + (~reg_ok).sum())
        if bad:
            self.nonfinite += bad
            if not self._warned_nonfinite:
                self._warned_nonfinite = True
                warnings.warn(
                    f"ALWA: {bad} non-finite loss value(s) in the window ending at call {self.calls}; "
                    "they are left out of the statistics (counted in .nonfinite; warned once)",
                    RuntimeWarning,
                    stacklevel=3,
                )
        cls_raw, reg_raw = cls_raw[cls_ok], reg_raw[reg_ok]
        cls_t, reg_t = t[cls_ok], t[reg_ok]
        rcm, rcs = _mean_std(cls_raw)
        rrm, rrs = _mean_std(reg_raw)
        wc, wr = self.cls_weight, self.reg_weight
        if self.record == "weighted":
            cm, cs = _mean_std(cls_raw * wc)
            rm, rs = _mean_std(reg_raw * wr)
        else:
            cm, cs, rm, rs = rcm, rcs, rrm, rrs
        cspread, rspread = cs, rs
        if self.stat == "detrended" and self.mode != "monitor":
            scale_c, scale_r = (wc, wr) if self.record == "weighted" else (1.0, 1.0)
            cspread, rspread = detrended_std(cls_raw * scale_c, cls_t), detrended_std(reg_raw * scale_r, reg_t)
        if self.mode == "alwa1":
            cls_stat, reg_stat = cm + cspread, rm + rspread
        elif self.mode == "alwa2":
            cls_stat, reg_stat = cspread, rspread
        else:
            cls_stat, reg_stat = math.nan, math.nan
        new = wc
        defined = math.isfinite(cls_stat) and math.isfinite(reg_stat) and cls_stat > 0.0 and reg_stat > 0.0
        if self.stat == "detrended" and (cspread == 0.0 or rspread == 0.0):
            defined = False  # a window without fluctuation (see detrended_std): nothing to compare
        if self.mode != "monitor" and defined and cls_stat > reg_stat:
            factor = 1.0 - (cls_stat - reg_stat) / cls_stat  # = REG / CLS, the authors' expression
            new = factor if self.update == "replace" else wc * factor
            if not (math.isfinite(new) and new > 0.0):
                new = wc
        self.cls_weight = new
        self.history.append(
            WindowStats(
                call=self.calls,
                n=int(min(cls_raw.numel(), reg_raw.numel())),
                cls_mean=cm,
                cls_std=cs,
                reg_mean=rm,
                reg_std=rs,
                raw_cls_mean=rcm,
                raw_cls_std=rcs,
                raw_reg_mean=rrm,
                raw_reg_std=rrs,
                cls_stat=cls_stat,
                reg_stat=reg_stat,
                cls_weight_before=wc,
                cls_weight=new,
                reg_weight=wr,
                updated=new != wc,
            )
        )

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Everything needed to continue bit-identically: options, weights,
        counters, the open window (as a CPU float64 tensor) and the history."""
        window = self._window_values().cpu()
        return {
            "version": _STATE_VERSION,
            "mode": self.mode,
            "interval": self.interval,
            "record": self.record,
            "update": self.update,
            "stat": self.stat,
            "distributed": self.distributed,
            "initial_cls_weight": self.initial_cls_weight,
            "initial_reg_weight": self.initial_reg_weight,
            "cls_weight": self.cls_weight,
            "reg_weight": self.reg_weight,
            "calls": self.calls,
            "nonfinite": self.nonfinite,
            "warned_nonfinite": self._warned_nonfinite,
            "window": window,
            "history": [h.as_dict() for h in self.history],
        }

    OPTIONS = ("mode", "interval", "record", "update", "stat")

    @staticmethod
    def _validated(state: dict) -> tuple["ALWA", dict]:
        """A fresh weighter holding ``state`` and the checked values, or an error; changes nothing."""
        if not isinstance(state, dict):
            raise TypeError(f"not an ALWA state dict: got {type(state).__name__}")
        missing = {"version", "mode", "interval", "cls_weight", "reg_weight", "calls", "window"} - set(state)
        if missing:
            raise KeyError(f"not an ALWA state dict: missing {sorted(missing)}")
        if not isinstance(state["version"], int) or state["version"] > _STATE_VERSION:
            raise ValueError(f"ALWA state version {state['version']!r} is not one this code reads (<= {_STATE_VERSION})")
        fresh = ALWA(
            mode=state["mode"],
            interval=state["interval"],
            cls_weight=state.get("initial_cls_weight", state["cls_weight"]),
            reg_weight=state.get("initial_reg_weight", state["reg_weight"]),
            record=state.get("record", "weighted"),
            update=state.get("update", "replace"),
            distributed=state.get("distributed", True),
            stat=state.get("stat", "std"),
        )
        vals = {"cls_weight": _check_weight("cls_weight", state["cls_weight"]),
                "reg_weight": _check_weight("reg_weight", state["reg_weight"])}
        for key in ("calls", "nonfinite"):
            v = state.get(key, 0)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"ALWA state: {key} must be an int >= 0, got {v!r}")
            vals[key] = v
        try:
            raw_window = state["window"]
            if isinstance(raw_window, torch.Tensor) and raw_window.device.type not in ("cpu", "cuda"):
                raise TypeError(f"it is on the {raw_window.device.type!r} device; a saved window is a CPU (or CUDA) tensor")
            window = torch.as_tensor(raw_window, dtype=torch.float64).reshape(-1, 2)
        except (TypeError, ValueError, RuntimeError) as e:
            raise ValueError(f"ALWA state: the window is not an (n, 2) array of numbers ({e})") from None
        if len(window) >= fresh.interval:
            raise ValueError(f"ALWA state: the open window holds {len(window)} calls, but a window ends at {fresh.interval}")
        if len(window) > vals["calls"]:
            raise ValueError(f"ALWA state: the open window holds {len(window)} calls, more than the {vals['calls']} calls made")
        try:
            history = [WindowStats(**h) for h in state.get("history", [])]
        except TypeError as e:
            raise ValueError(f"ALWA state: a history entry is not a window record ({e})") from None
        vals["window"], vals["history"] = window.clone(), history
        vals["warned_nonfinite"] = bool(state.get("warned_nonfinite", False))
        return fresh, vals

    def _install(self, fresh: "ALWA", vals: dict) -> None:
        self.__dict__.update(fresh.__dict__)
        self.cls_weight, self.reg_weight = vals["cls_weight"], vals["reg_weight"]
        self.calls, self.nonfinite = vals["calls"], vals["nonfinite"]
        self._warned_nonfinite = vals["warned_nonfinite"]
        self._window_sums, self._window = vals["window"], []
        self.history = vals["history"]

    def load_state_dict(self, state: dict) -> None:
        """Restore from :meth:`state_dict`. Everything is checked before anything changes: a state that fails
        leaves this weighter as it was. The state's options (``mode``, ``interval``, ``record``, ``update``,
        ``stat``) must equal this weighter's; to take the checkpoint's options, use :meth:`from_state_dict`."""
        fresh, vals = self._validated(state)
        differ = {k: (getattr(fresh, k), getattr(self, k)) for k in self.OPTIONS if getattr(fresh, k) != getattr(self, k)}
        if differ:
            raise ValueError("ALWA state was saved with other options than this weighter's: "
                             + ", ".join(f"{k}={a!r} in the state, {b!r} here" for k, (a, b) in differ.items())
                             + "; configure the same options, or build the weighter from the state with ALWA.from_state_dict")
        distributed = self.distributed  # how this process averages windows is its own choice, not the checkpoint's
        self._install(fresh, vals)
        self.distributed = distributed

    @classmethod
    def from_state_dict(cls, state: dict) -> "ALWA":
        """A weighter with the options and the state of ``state`` (as saved by :meth:`state_dict`)."""
        fresh, vals = cls._validated(state)
        fresh._install(fresh, vals)
        return fresh

    def reset(self) -> None:
        """Back to the initial weights with an empty window and history."""
        fresh = ALWA(self.mode, self.interval, self.initial_cls_weight, self.initial_reg_weight, self.record, self.update,
                     self.distributed, self.stat)
        self._install(*self._validated(fresh.state_dict()))

    def __repr__(self) -> str:
        return (
            f"ALWA(mode={self.mode!r}, interval={self.interval}, cls_weight={self.cls_weight:.6g}, "
            f"reg_weight={self.reg_weight:.6g}, record={self.record!r}, update={self.update!r}, stat={self.stat!r}, "
            f"calls={self.calls}, windows={len(self.history)})"
        )
