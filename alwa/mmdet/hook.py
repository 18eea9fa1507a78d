"""``ALWAHook``: switch ALWA on in an MMDetection 3.x config, no fork.

Config (the README's lines)::

    custom_imports = dict(imports=['alwa.mmdet'], allow_failed_imports=False)
    custom_hooks = [dict(type='ALWAHook', mode='alwa2', interval=100)]

What it does:

* At ``before_run`` it finds the head (``head=None``: the detector's
  ``bbox_head`` if it has one, else its ``rpn_head``; or a dotted path such as
  ``'rpn_head'`` or ``'roi_head.bbox_head'``) and wraps the head's loss method
  (``loss_by_feat`` for dense heads built on AnchorHead, ``loss`` for RoI
  bbox heads) on that instance. The wrapped method multiplies two groups
  of the head's losses by the :class:`alwa.ALWA` weights (any regression
  loss works). By default (:func:`default_keys`) classification is the
  ``loss_cls``/``loss_rpn_cls`` family and regression the ``loss_bbox``/
  ``loss_rpn_bbox``/``loss_iou``/``loss_dfl`` family, each with the DETR
  family's auxiliary-layer (``d0.``..), encoder (``enc_``) and denoising
  (``dn_``) variants; everything else (centerness, objectness, YOLOX's L1,
  masks) is left untouched. ``cls_keys=``/``reg_keys=`` name them instead
  (``cls_key=``/``reg_key=``: one key). The first call logs the weighted
  and untouched keys; a named key the head does not return is an error
  that lists what it returns.
* It adds ``{name}_cls_weight``, ``{name}_reg_weight`` (the weights used in
  this iteration) and ``{name}_cls_raw``, ``{name}_reg_raw`` (the unweighted
  per-task sums) to the loss dict. Their names hold no ``loss``, so mmengine
  logs them (text log, ``vis_data/scalars.json``, any visualizer backend)
  without adding them to the total loss; the hook makes the log processor
  average them over its window as it does ``loss_*``, so ``loss_cls`` reads
  as ``alwa_cls_weight x alwa_cls_raw`` (exactly, for one key, in every log
  window in which the weight did not change; ALWA changes it only at its own
  window ends).
* State: saved into every checkpoint under ``checkpoint['alwa'][name]``
  and restored on ``resume=True``; ``load_from`` (fine-tuning) starts ALWA
  fresh and says so in the log. A resume refuses a checkpoint whose ALWA
  state was saved for another head or with other options (mode, interval,
  record, update, stat), naming both, unless ``adopt_checkpoint_options=True`` (a bool; the process keeps its own
  ``distributed`` setting, and a state saved for another head is refused even then)
  (the checkpoint's options are then taken); a resume from a checkpoint
  without ALWA state starts ALWA fresh with a WARNING.
* Two ALWAHooks need two ``name`` values (e.g. one per head): a second hook of
  the same name is refused at ``before_run``, since it would overwrite the
  first one's logs and checkpoint entry.

Every :class:`alwa.ALWA` option (``mode``, ``interval``, ``cls_weight``,
``reg_weight``, ``record``, ``update``, ``distributed``) is a keyword of the
hook. ``mode='monitor'`` records the per-window statistics without changing
any weight (baselines).
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from alwa.core.weighter import ALWA
from alwa.core.weightings import WEIGHTINGS
from alwa.mmdet.heads import CLS_LOSSES, LOSS_METHODS, REG_LOSSES, default_keys, resolve_head
from alwa.mmdet.hooks_config import lost_custom_hooks

def _as_keys(what: str, value) -> Optional[list[str]]:
    if value is None:
        return None
    if isinstance(value, dict):  # {'loss_cls': 2.0} read as a list would drop the 2.0 in silence
        raise TypeError(f"ALWAHook: {what} must be a loss key or a list of loss keys, got a mapping {value!r}; a weight "
                        f"per key is not an ALWA option (set it as the loss's loss_weight in the head's config)")
    keys = [value] if isinstance(value, str) else list(value)
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise TypeError(f"ALWAHook: {what} must be a loss key or a non-empty list of loss keys, got {value!r}")
    if len(set(keys)) != len(keys):
        raise ValueError(f"ALWAHook: {what} names a key twice: {keys}")
    return keys


def _levels(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


class ALWALossWrapper:
    """Callable replacing a head's loss method; applies the weighter to two groups of loss keys.

    ``cls_keys``/``reg_keys`` (lists of keys, or None for :func:`default_keys`) are resolved at the first call from
    what the head returns, checked, and logged once (again if the head returns other keys later); each side's
    statistic is of the sum of its keys' values (every level of each)."""

    def __init__(self, original, weighter: ALWA, name: str, cls_keys=None, reg_keys=None,
                 head_path: Optional[str] = None, head_type: str = "?", spelled: Optional[dict] = None):
        self.original, self.weighter, self.name, self.head_path, self.head_type = original, weighter, name, head_path, head_type
        self.cls_keys, self.reg_keys = _as_keys("cls_keys", cls_keys), _as_keys("reg_keys", reg_keys)
        self.spelled = {"cls_keys": "cls_keys", "reg_keys": "reg_keys", **(spelled or {})}  # the option the user wrote
        self.resolved: Optional[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = None  # cls, reg, untouched
        self._returned: Optional[tuple[str, ...]] = None
        self._logged: dict = {}  # device -> ((cls weight, reg weight), (their 0-d tensors on that device))
        functools.update_wrapper(self, original)

    def _weight_tensors(self, wc: float, wr: float, device) -> tuple:
        """The weights as 0-d tensors on ``device`` for the log, made only when a weight changed (after a window's end)
        and reused on every other call: no tensor is made from a Python number per call (on a GPU that copy would
        synchronise with the host)."""
        cached = self._logged.get(device)
        if cached is None or cached[0] != (wc, wr):
            cached = ((wc, wr), (torch.full((), wc, device=device), torch.full((), wr, device=device)))
            self._logged[device] = cached
        return cached[1]

    def _where(self) -> str:
        return f"ALWAHook {self.name!r} on head {self.head_path or '?'!r} ({self.head_type})"

    def _resolve(self, losses: dict) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """The (cls, reg, untouched) keys for a head that returned ``losses``; checked once per set of returned keys."""
        returned = tuple(losses)
        if self.resolved is not None and returned == self._returned:
            return self.resolved
        dcls, dreg = default_keys(returned)
        cls = self.cls_keys if self.cls_keys is not None else dcls
        reg = self.reg_keys if self.reg_keys is not None else dreg
        for side, keys, named in (("cls_keys", cls, self.cls_keys), ("reg_keys", reg, self.reg_keys)):
            missing = [k for k in keys if k not in losses]
            if missing:
                raise KeyError(f"{self._where()}: {self.spelled[side]}={named if len(named) > 1 or self.spelled[side] == side else named[0]!r} "
                               f"names {missing}, which the head does not return; it returns {list(returned)}")
            if not keys:
                raise KeyError(f"{self._where()}: no {'classification' if side == 'cls_keys' else 'regression'} loss "
                               f"among {list(returned)} (by default the {CLS_LOSSES if side == 'cls_keys' else REG_LOSSES} "
                               f"families); name them with {side}=")
            not_loss = [k for k in keys if "loss" not in k]
            if not_loss:
                raise ValueError(f"{self._where()}: {side} {not_loss} are not losses (mmdet adds only keys holding "
                                 f"'loss' to the total); the head's losses: {[k for k in returned if 'loss' in k]}")
        both = sorted(set(cls) & set(reg))
        if both:
            raise ValueError(f"{self._where()}: {both} named as both classification and regression losses")
        untouched = tuple(k for k in returned if "loss" in k and k not in cls and k not in reg)
        first = self.resolved is None
        self.resolved, self._returned = (tuple(cls), tuple(reg), untouched), returned
        print_log(f"{self._where()}{'' if first else ' (the head returns other keys now)'}: weighs {list(cls)} "
                  f"(classification) against {list(reg)} (regression); left untouched: {list(untouched)}",
                  logger="current")
        return self.resolved

    def __call__(self, *args, **kwargs):
        losses = self.original(*args, **kwargs)
        ck, rk, _ = self._resolve(losses)
        cls_parts = [_levels(losses[k]) for k in ck]
        reg_parts = [_levels(losses[k]) for k in rk]
        cls_raw = [t for part in cls_parts for t in part]
        reg_raw = [t for part in reg_parts for t in part]
        w = self.weighter
        own = getattr(w, "weight_tensors", None)  # another weighting: this call's weights as tensors, after the call
        wc, wr = (None, None) if own is not None else (w.cls_weight, w.reg_weight)
        try:
            cls_out, reg_out = w(cls_raw, reg_raw)
        except (TypeError, ValueError) as e:  # name the head and the keys: the weighter knows neither
            msg = str(e)
            for side, keys, parts in (("cls_loss", ck, cls_parts), ("reg_loss", rk, reg_parts)):
                flat = [(k, i, len(p)) for k, p in zip(keys, parts) for i in range(len(p))]
                for j, (k, i, n) in enumerate(flat):  # the flattened index back to the head's key (and level)
                    msg = msg.replace(f"{side}[{j}]", repr(k) if n == 1 and not isinstance(losses[k], (list, tuple))
                                      else f"{k!r}[{i}]")
                msg = msg.replace(side, repr(list(keys)))
            raise type(e)(f"ALWAHook on head {self.head_path or '?'!r}: {msg}") from None
        for keys, parts, out in ((ck, cls_parts, cls_out), (rk, reg_parts, reg_out)):
            at = 0
            for k, part in zip(keys, parts):
                n = len(part)
                losses[k] = out[at] if not isinstance(losses[k], (list, tuple)) else type(losses[k])(out[at:at + n])
                at += n
        ref = cls_raw[0]
        with torch.no_grad():
            if own is not None:
                losses[f"{self.name}_cls_weight"], losses[f"{self.name}_reg_weight"] = (x.to(ref.dtype) for x in own())
            else:
                losses[f"{self.name}_cls_weight"], losses[f"{self.name}_reg_weight"] = self._weight_tensors(wc, wr, ref.device)
            losses[f"{self.name}_cls_raw"] = torch.stack([t.detach().reshape(()) for t in cls_raw]).sum()
            losses[f"{self.name}_reg_raw"] = torch.stack([t.detach().reshape(()) for t in reg_raw]).sum()
        return losses


@HOOKS.register_module()
class ALWAHook(Hook):
    """Adaptive Loss Weight Adjustment for an mmdet head (see module doc)."""

    priority = "NORMAL"

    def __init__(
        self,
        head: Optional[str] = None,
        cls_keys=None,
        reg_keys=None,
        name: str = "alwa",
        adopt_checkpoint_options: bool = False,
        cls_key: Optional[str] = None,
        reg_key: Optional[str] = None,
        weighting: str = "alwa",
        **alwa_options,
    ) -> None:
        if weighting != "alwa" and weighting not in WEIGHTINGS:
            raise ValueError(f"ALWAHook: weighting={weighting!r} is not one of {['alwa', *WEIGHTINGS]}")
        if weighting != "alwa" and adopt_checkpoint_options:
            raise ValueError(f"ALWAHook: adopt_checkpoint_options applies to ALWA, not to weighting={weighting!r}")
        if "loss" in name:
            raise ValueError(f"ALWAHook name {name!r} must not contain 'loss' (mmengine would add the logs into the total loss)")
        if not isinstance(adopt_checkpoint_options, bool):  # the string 'false' is truthy: only a real bool decides
            raise TypeError(f"ALWAHook: adopt_checkpoint_options must be True or False, got {adopt_checkpoint_options!r} "
                            f"({type(adopt_checkpoint_options).__name__})")
        for one, many, side in ((cls_key, cls_keys, "cls"), (reg_key, reg_keys, "reg")):
            if one is not None and many is not None:
                raise ValueError(f"ALWAHook: give {side}_keys= or {side}_key= (one key, the older spelling), not both")
        self.cls_keys = _as_keys("cls_key" if cls_key is not None else "cls_keys", cls_keys if cls_keys is not None else cls_key)
        self.reg_keys = _as_keys("reg_key" if reg_key is not None else "reg_keys", reg_keys if reg_keys is not None else reg_key)
        self._spelled = {side + "s": side for side, v in (("cls_key", cls_key), ("reg_key", reg_key)) if v is not None}
        both = sorted(set(self.cls_keys or ()) & set(self.reg_keys or ()))
        if both:
            raise ValueError(f"ALWAHook: {both} named as both classification and regression losses")
        self.head, self.name = head, name
        self.adopt_checkpoint_options = adopt_checkpoint_options
        self.weighting = weighting
        try:
            self.weighter = ALWA(**alwa_options) if weighting == "alwa" else WEIGHTINGS[weighting](**alwa_options)
        except TypeError as e:  # an option the weighting does not take: say which weighting
            raise TypeError(f"ALWAHook (weighting={weighting!r}): {e}") from None
        self.head_path: Optional[str] = None
        self.head_type = "?"
        self._wrapper: Optional[ALWALossWrapper] = None

    # ---------------------------------------------------------------- attach
    def attach(self, model: torch.nn.Module) -> None:
        """Wrap the head's loss method of ``model`` (idempotent)."""
        if is_model_wrapper(model):
            model = model.module
        path, head = resolve_head(model, self.head)
        method = next((m for m in LOSS_METHODS if callable(getattr(head, m, None))), None)
        if method is None:
            raise ValueError(f"ALWAHook: head {path!r} ({type(head).__name__}) has no {LOSS_METHODS} method")
        current = getattr(head, method)
        if isinstance(current, ALWALossWrapper):
            if current.weighter is not self.weighter:
                raise RuntimeError(f"ALWAHook: head {path!r} already has another ALWAHook attached")
            return
        self._wrapper = ALWALossWrapper(current, self.weighter, self.name, self.cls_keys, self.reg_keys,
                                        head_path=path, head_type=type(head).__name__, spelled=self._spelled)
        setattr(head, method, self._wrapper)
        self.head_path, self.head_type = path, type(head).__name__

    @property
    def resolved_keys(self) -> Optional[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]:
        """``(cls keys, reg keys, untouched keys)`` as the head's latest call resolved them; None before its first."""
        return self._wrapper.resolved if self._wrapper is not None else None

    def _smooth_like_losses(self, runner) -> None:
        """Make the log processor average ``{name}_*`` over its window as it does ``loss_*``: without it the text log
        and ``scalars.json`` show ``loss_cls`` as a window mean next to this iteration's weight and raw loss."""
        proc = getattr(runner, "log_processor", None)
        pattern = getattr(proc, "mean_pattern", None)
        if pattern is None:
            return
        ours = rf"^(?:s\d+\.)?{re.escape(self.name)}_(?:cls|reg)_(?:weight|raw)$"  # a cascade stage's logs: s0. ...
        text = pattern.pattern if hasattr(pattern, "pattern") else str(pattern)
        if ours not in text:
            proc.mean_pattern = re.compile(f"(?:{text})|{ours}")

    def detach(self, model: torch.nn.Module) -> None:
        """Undo :meth:`attach` (the head's own loss method is used again)."""
        if is_model_wrapper(model):
            model = model.module
        _, head = resolve_head(model, self.head)
        for m in LOSS_METHODS:
            if isinstance(head.__dict__.get(m), ALWALossWrapper):
                del head.__dict__[m]

    def before_run(self, runner) -> None:
        twins = [h for h in runner.hooks if isinstance(h, ALWAHook) and h is not self and h.name == self.name]
        if twins:
            raise ValueError(f"ALWAHook: {len(twins) + 1} ALWAHooks are named {self.name!r}; give each its own name= "
                             f"(their logs and checkpoint entries would overwrite each other)")
        self.attach(runner.model)
        keys = ", ".join(f"{side}={list(k) if k is not None else 'default'}"
                         for side, k in (("cls_keys", self.cls_keys), ("reg_keys", self.reg_keys)))
        print_log(f"ALWAHook: {self.weighter!r} on head {self.head_path!r} ({self.head_type}); {keys} (the weighted and "
                  f"untouched keys are listed at the first iteration)", logger="current")
        self._smooth_like_losses(runner)
        stage_weight = self._stage_loss_weight(runner.model)
        if stage_weight is not None:
            print_log(f"ALWAHook: {self.head_path!r} is a cascade stage head: mmdet multiplies its losses by the stage loss "
                      f"weight {stage_weight:g} after ALWA, so its log reads loss_* = {stage_weight:g} x {self.name}_*_weight x "
                      f"{self.name}_*_raw", logger="current")
        if hasattr(self.weighter, "parameters"):
            self._add_to_optimizer(runner)
        lost = lost_custom_hooks(getattr(runner.cfg, "filename", None) or "")
        if lost:
            print_log(f"ALWAHook: this config's custom_hooks replaced its base's {lost}, which no longer run; to keep them, "
                      f"add ALWA with alwa.mmdet.with_alwa(cfg, ...) or append to the base's list", logger="current",
                      level=logging.WARNING)

    def _stage_loss_weight(self, model) -> Optional[float]:
        """The loss weight mmdet gives the cascade stage ALWA weighs (``roi_head.bbox_head.<i>``); None for another head."""
        m = re.fullmatch(r"(.*)\.bbox_head\.(\d+)", self.head_path or "")
        if m is None:
            return None
        model = model.module if is_model_wrapper(model) else model
        roi = model
        for part in m.group(1).split("."):
            roi = getattr(roi, part, None)
        weights = getattr(roi, "stage_loss_weights", None)
        return float(weights[int(m.group(2))]) if weights is not None and int(m.group(2)) < len(weights) else None

    def _add_to_optimizer(self, runner) -> None:
        """A weighting with learnable parameters (uncertainty weighting's log-variances) joins the optimizer as its own
        group, on the model's device, without weight decay, at the lr the first group has now and the same base lr,
        so the schedulers' factors (warm-up, steps) apply to it as to the model. Once per run."""
        wrapper = getattr(runner, "optim_wrapper", None)
        opt = getattr(wrapper, "optimizer", None)
        if opt is None:
            raise ValueError(f"ALWAHook: weighting={self.weighting!r} learns parameters, but this runner has no single "
                             f"optimizer to add them to")
        params = self.weighter.parameters()
        if any(p is q for g in opt.param_groups for p in g["params"] for q in params):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        dev = next(model.parameters()).device
        with torch.no_grad():
            for p in params:
                p.data = p.data.to(dev)
        g0 = opt.param_groups[0]
        group = {"params": params, "lr": g0["lr"], "weight_decay": 0.0}
        if "initial_lr" in g0:
            group["initial_lr"] = g0["initial_lr"]
        opt.add_param_group(group)
        for sched in _schedulers(runner):
            if hasattr(sched, "base_values") and len(sched.base_values) == len(opt.param_groups) - 1:
                sched.base_values.append(sched.base_values[0])
        print_log(f"ALWAHook: {type(self.weighter).__name__}'s parameters joined the optimizer (lr {g0['lr']:.6g} now, "
                  f"no weight decay)", logger="current")

    # ---------------------------------------------------------------- state
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault("alwa", {})[self.name] = {"head": self.head_path, "state": self.weighter.state_dict()}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get("alwa", {}).get(self.name)
        resuming = bool(getattr(runner, "_resume", False))
        if saved is None:
            print_log(f"ALWAHook: checkpoint has no ALWA state for {self.name!r}; ALWA starts fresh "
                      f"({self.weighter!r})", logger="current", level=logging.WARNING if resuming else logging.INFO)
            return
        if not resuming:
            print_log("ALWAHook: load_from without resume: ALWA starts fresh (its saved state is ignored)",
                      logger="current")
            return
        state = saved["state"]
        if saved.get("head") is not None and self.head_path is not None and saved["head"] != self.head_path:
            # options can be adopted, a head cannot: the statistics of one head's losses say nothing of another's
            raise ValueError(f"ALWAHook {self.name!r}: the checkpoint's ALWA state is for head {saved['head']!r}, this "
                             f"config weights {self.head_path!r}; resume with head={saved['head']!r}, or start ALWA fresh "
                             f"with load_from instead of resume")
        if self.adopt_checkpoint_options:
            own = self.weighter.distributed  # how this process runs is its own: never taken from the checkpoint
            self.weighter = ALWA.from_state_dict({**state, "distributed": own})
            self._rewire(runner.model)
            print_log(f"ALWAHook: resumed with the checkpoint's options {self.weighter!r} (distributed={own}, this "
                      f"process's setting)", logger="current", level=logging.WARNING)
            return
        try:
            self.weighter.load_state_dict(state)
        except ValueError as e:
            raise ValueError(f"ALWAHook {self.name!r}: cannot resume: {e} (the config's hook: {self.weighter!r}); "
                             f"or set adopt_checkpoint_options=True on the hook") from None
        print_log(f"ALWAHook: resumed {self.weighter!r}", logger="current")

    def _rewire(self, model) -> None:
        """Point the wrapped loss method at the current weighter (after it was replaced)."""
        if is_model_wrapper(model):
            model = model.module
        _, head = resolve_head(model, self.head_path or self.head)
        for m in LOSS_METHODS:
            wrapper = head.__dict__.get(m)
            if isinstance(wrapper, ALWALossWrapper):
                wrapper.weighter = self.weighter


def _schedulers(runner) -> list:
    s = getattr(runner, "param_schedulers", None) or []
    if isinstance(s, dict):
        return [x for v in s.values() for x in (v if isinstance(v, list) else [v])]
    return list(s) if isinstance(s, list) else [s]
