"""Three standard adaptive loss weightings besides ALWA, with :class:`alwa.ALWA`'s interface (plain PyTorch).

Each is called as ``w(cls_loss, reg_loss)`` with two 0-d tensors (or two lists of them, one per level) and returns
the weighted losses in the same structure, with ``weights`` / ``cls_weight`` / ``reg_weight`` (the weights of the
last call, Python floats: reading them synchronises a GPU), ``history`` (one :class:`~alwa.core.weighter.WindowStats`
per window of ``interval`` calls: the raw losses' statistics, as ALWA's ``monitor`` mode records them, with the
weights in force at the window's end), ``state_dict`` / ``load_state_dict`` (bit-identical continuation) and
``weight_tensors()`` (the last call's weights as 0-d tensors on the losses' device: what a log reads without a
host-device synchronisation). Between window ends no call synchronises host and device.

* :class:`UncertaintyWeighting` (Kendall, Gal and Cipolla, CVPR 2018): learnable log-variances
  ``s = (s_cls, s_reg)``, ``s = log sigma^2``, trained by the optimizer with the model; each task's loss becomes
  ``exp(-s_k) * L_k + s_k`` (the form of their eq. 7 with ``s = log sigma^2``, times 2, which the tuned learning rate
  absorbs). ``s = 0`` at the start: the weights start at 1:1. Add :meth:`UncertaintyWeighting.parameters` to the
  optimizer (``alwa.mmdet.ALWAHook`` does).
* :class:`DWA` (Dynamic Weight Average; Liu, Johns and Davison, CVPR 2019), temperature ``T = 2``: for window
  ``j >= 3``, ``lambda_k = K exp(r_k / T) / sum_i exp(r_i / T)`` with ``r_k = m_k(j-1) / m_k(j-2)``, ``m_k`` the
  mean raw loss of task k over a window of ``interval`` calls (ALWA's C, in place of the paper's epochs), K = 2;
  1:1 in the first two windows.
* :class:`RLW` (Random Loss Weighting; Lin et al., TMLR 2022, "Reasonable effectiveness of random weighting"):
  each call's weights ``lambda = softmax(z)``, ``z ~ N(0, I_2)``, drawn from the weighter's own generator
  (``seed``): every rank draws the same weights, and a resumed run the same ones it would have drawn.

:data:`WEIGHTINGS` names them (``uw``, ``dwa``, ``rlw``) for the experiment grammar and the mmdet hook.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import torch

from alwa.core.weighter import ALWA, LossArg, WindowStats, _as_levels, _dist_world

_STATE_VERSION = 1


class LossWeighting:
    """The common part: levels in and out, the window record (an ALWA in ``monitor`` mode over the raw losses) and
    the state. A subclass gives :meth:`_weights` (this call's two weights as 0-d tensors) and may add a term."""

    kind = "?"

    def __init__(self, interval: int = 100) -> None:
        self.monitor = ALWA(mode="monitor", interval=interval, record="raw", distributed=False)
        self.interval = self.monitor.interval
        self.history: list[WindowStats] = []
        self._last: Optional[tuple[torch.Tensor, torch.Tensor]] = None

    # ------------------------------------------------------------------ calls
    def _weights(self, cls_sum: torch.Tensor, reg_sum: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _term(self, k: int) -> Optional[torch.Tensor]:
        """A term added to task ``k``'s first level (0: cls, 1: reg); None: none."""
        return None

    def __call__(self, cls_loss: LossArg, reg_loss: LossArg):
        cls_levels, cls_list = _as_levels("cls_loss", cls_loss)
        reg_levels, reg_list = _as_levels("reg_loss", reg_loss)
        if cls_list != reg_list:
            raise TypeError("cls_loss and reg_loss must both be tensors or both be lists")
        sums = [torch.stack([t.reshape(()) for t in side]).sum() for side in (cls_levels, reg_levels)]
        wc, wr = self._weights(sums[0].detach(), sums[1].detach())
        outs = []
        for k, (levels, w) in enumerate(((cls_levels, wc), (reg_levels, wr))):
            out = [w.to(t.dtype) * t for t in levels]
            term = self._term(k)
            if term is not None:
                out[0] = out[0] + term.to(out[0].dtype).reshape(out[0].shape)
            outs.append(out)
        self._last = (wc.detach(), wr.detach())
        before = len(self.monitor.history)
        self.monitor([t.detach() for t in cls_levels], [t.detach() for t in reg_levels])
        if len(self.monitor.history) > before:  # a window ended (the monitor synchronised once): record our weights
            c, r = (float(x) for x in self._last)
            self.history.append(dataclasses.replace(self.monitor.history[-1], cls_weight_before=c, cls_weight=c,
                                                    reg_weight=r, updated=False))
        if cls_list:
            return outs[0], outs[1]
        return outs[0][0], outs[1][0]

    @property
    def calls(self) -> int:
        return self.monitor.calls

    def weight_tensors(self) -> Optional[tuple[torch.Tensor, torch.Tensor]]:
        """The last call's weights as detached 0-d tensors on the losses' device (None before the first call)."""
        return self._last

    @property
    def weights(self) -> tuple[float, float]:
        """The last call's ``(cls_weight, reg_weight)`` (1:1 before the first call); synchronises a GPU."""
        if self._last is None:
            return 1.0, 1.0
        return float(self._last[0]), float(self._last[1])

    @property
    def cls_weight(self) -> float:
        return self.weights[0]

    @property
    def reg_weight(self) -> float:
        return self.weights[1]

    # ------------------------------------------------------------------ state
    def _options(self) -> dict:
        return {"interval": self.interval}

    def _own_state(self) -> dict:
        return {}

    def _load_own(self, state: dict) -> None:
        pass

    def state_dict(self) -> dict:
        return {"version": _STATE_VERSION, "kind": self.kind, "options": self._options(),
                "monitor": self.monitor.state_dict(), "history": [h.as_dict() for h in self.history],
                "last": None if self._last is None else [float(x) for x in self._last], **self._own_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore from :meth:`state_dict`; a state of another weighting or with other options is refused (one line
        naming what differs) and changes nothing."""
        if not isinstance(state, dict) or state.get("kind") != self.kind:
            got = state.get("kind") if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"{type(self).__name__}: the state is of {got!r}, not {self.kind!r}")
        if state.get("options") != self._options():
            raise ValueError(f"{type(self).__name__}: the state was saved with options {state.get('options')}, this "
                             f"weighter has {self._options()}")
        monitor = ALWA.from_state_dict(state["monitor"])
        history = [WindowStats(**h) for h in state.get("history", [])]
        self._load_own(state)
        self.monitor, self.history = monitor, history
        last = state.get("last")
        self._last = None if last is None else (torch.tensor(last[0]), torch.tensor(last[1]))

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self._options().items())
        return f"{type(self).__name__}({opts}, calls={self.calls}, windows={len(self.history)})"


class UncertaintyWeighting(LossWeighting):
    """Kendall et al. (2018): each task's loss ``exp(-s_k) * L_k + s_k`` with learnable ``s`` (see the module).

    Args:
        interval: the window of the recorded statistics (calls).
        init: the initial log-variances ``(s_cls, s_reg)`` (0, 0: weights 1:1).
    """

    kind = "uw"

    def __init__(self, interval: int = 100, init: tuple = (0.0, 0.0)) -> None:
        super().__init__(interval)
        init = tuple(float(v) for v in init)
        if len(init) != 2 or not all(math.isfinite(v) for v in init):
            raise ValueError(f"init must be two finite log-variances, got {init!r}")
        self.init = init
        self.log_vars = torch.nn.Parameter(torch.tensor(init, dtype=torch.float32))

    def parameters(self) -> list:
        """The learnable log-variances, for the optimizer (no weight decay: it would pull the weights to 1)."""
        return [self.log_vars]

    def _weights(self, cls_sum, reg_sum):
        if _dist_world() > 1:
            raise RuntimeError("UncertaintyWeighting: its log-variances are not averaged over ranks, so distributed "
                               "training would give each rank its own weights; run it in one process")
        if self.log_vars.device != cls_sum.device:
            with torch.no_grad():
                self.log_vars.data = self.log_vars.data.to(cls_sum.device)
        w = torch.exp(-self.log_vars)
        return w[0], w[1]

    def _term(self, k: int):
        return self.log_vars[k]

    def _options(self) -> dict:
        return {"interval": self.interval, "init": list(self.init)}

    def _own_state(self) -> dict:
        return {"log_vars": self.log_vars.detach().cpu().tolist()}

    def _load_own(self, state: dict) -> None:
        lv = state.get("log_vars")
        if not (isinstance(lv, list) and len(lv) == 2 and all(isinstance(v, (int, float)) and math.isfinite(v) for v in lv)):
            raise ValueError(f"UncertaintyWeighting: the state's log_vars must be two finite numbers, got {lv!r}")
        with torch.no_grad():
            self.log_vars.copy_(torch.tensor(lv, dtype=self.log_vars.dtype))


class DWA(LossWeighting):
    """Dynamic Weight Average (Liu et al. 2019) over windows of ``interval`` calls, ``temperature`` T (see the module)."""

    kind = "dwa"

    def __init__(self, interval: int = 100, temperature: float = 2.0, distributed: bool = True) -> None:
        super().__init__(interval)
        temperature = float(temperature)
        if not math.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"temperature must be finite and > 0, got {temperature!r}")
        self.temperature, self.distributed = temperature, bool(distributed)
        self._sum: Optional[torch.Tensor] = None  # (2,) float64 raw loss sums of the open window, on the losses' device
        self._n = 0
        self._means: list[torch.Tensor] = []  # the last two windows' (2,) means
        self._w: Optional[torch.Tensor] = None  # (2,) weights in force

    def _weights(self, cls_sum, reg_sum):
        dev = cls_sum.device
        if self._w is None or self._w.device != dev:
            self._w = torch.ones(2, dtype=torch.float64, device=dev) if self._w is None else self._w.to(dev)
        w = self._w
        pair = torch.stack([cls_sum, reg_sum]).to(torch.float64)
        self._sum = pair if self._sum is None else self._sum.to(dev) + pair
        self._n += 1
        if self._n >= self.interval:
            total = self._sum
            if self.distributed and _dist_world() > 1:
                total = total.clone()
                torch.distributed.all_reduce(total)
                total = total / _dist_world()
            self._means = (self._means + [total / self._n])[-2:]
            self._sum, self._n = None, 0
            if len(self._means) == 2:
                r = self._means[1] / self._means[0]
                self._w = 2 * torch.softmax(r / self.temperature, dim=0)
        return w[0].float(), w[1].float()

    def _options(self) -> dict:
        return {"interval": self.interval, "temperature": self.temperature}

    def _own_state(self) -> dict:
        t = lambda x: None if x is None else x.detach().cpu().tolist()  # noqa: E731
        return {"sum": t(self._sum), "n": self._n, "means": [t(m) for m in self._means], "w": t(self._w)}

    def _load_own(self, state: dict) -> None:
        t = lambda x: None if x is None else torch.tensor(x, dtype=torch.float64)  # noqa: E731
        n = state.get("n", 0)
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < self.interval:
            raise ValueError(f"DWA: the state's open window must hold 0..{self.interval - 1} calls, got {n!r}")
        self._sum, self._n = t(state.get("sum")), n
        self._means = [t(m) for m in state.get("means", [])]
        self._w = t(state.get("w"))


class RLW(LossWeighting):
    """Random Loss Weighting (Lin et al. 2022): each call's weights ``softmax(z)``, ``z ~ N(0, I_2)`` (see the module)."""

    kind = "rlw"

    def __init__(self, interval: int = 100, seed: int = 0) -> None:
        super().__init__(interval)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.seed = seed
        self._gen: Optional[torch.Generator] = None
        self._gen_state: Optional[torch.Tensor] = None  # a restored generator state, installed at the next call
        self._draws = 0

    def _generator(self, dev) -> torch.Generator:
        if self._gen is None or self._gen.device != dev:
            self._gen = torch.Generator(device=dev)
            self._gen.manual_seed(self.seed)
            if self._gen_state is not None:
                self._gen.set_state(self._gen_state)
                self._gen_state = None
        return self._gen

    def _weights(self, cls_sum, reg_sum):
        z = torch.randn(2, generator=self._generator(cls_sum.device), device=cls_sum.device, dtype=torch.float32)
        self._draws += 1
        w = torch.softmax(z, dim=0)
        return w[0], w[1]

    def _options(self) -> dict:
        return {"interval": self.interval, "seed": self.seed}

    def _own_state(self) -> dict:
        return {"draws": self._draws, "generator": None if self._gen is None else self._gen.get_state().tolist()}

    def _load_own(self, state: dict) -> None:
        g = state.get("generator")
        self._draws = int(state.get("draws", 0))
        self._gen = None  # made at the next call on the losses' device, then set to the saved state
        self._gen_state = None if g is None else torch.tensor(g, dtype=torch.uint8)


WEIGHTINGS = {"uw": UncertaintyWeighting, "dwa": DWA, "rlw": RLW}
