"""``ALWAHook``: switch ALWA on in an MMDetection 3.x config, no fork.

Config (the README's lines)::

    custom_imports = dict(imports=['alwa.mmdet'], allow_failed_imports=False)
    custom_hooks = [dict(type='ALWAHook', mode='alwa2', interval=100)]

What it does:

* At ``before_run`` it finds the head (``head=None``: the detector's
  ``bbox_head`` if it has one, else its ``rpn_head``; or a dotted path such as
  ``'rpn_head'`` or ``'roi_head.bbox_head'``) and wraps the head's loss method
  (``loss_by_feat`` for dense heads built on AnchorHead, ``loss`` for RoI
  bbox heads) on that instance. The wrapped method multiplies the loss pair
  (auto-detected: ``loss_cls``/``loss_bbox`` or
  ``loss_rpn_cls``/``loss_rpn_bbox``; or ``cls_key``/``reg_key``) by the
  :class:`alwa.ALWA` weights, works for any regression loss the head uses.
* It adds ``{name}_cls_weight``, ``{name}_reg_weight`` (the weights used in
  this iteration) and ``{name}_cls_raw``, ``{name}_reg_raw`` (the unweighted
  per-task sums) to the loss dict. Their names hold no ``loss``, so mmengine
  logs them (text log, ``vis_data/scalars.json``, any visualizer backend)
  without adding them to the total loss.
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
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from alwa.core.weighter import ALWA
from alwa.mmdet.hooks_config import lost_custom_hooks

KEY_PAIRS = (("loss_cls", "loss_bbox"), ("loss_rpn_cls", "loss_rpn_bbox"))
LOSS_METHODS = ("loss_by_feat", "loss")


def _candidate_heads(model: torch.nn.Module) -> list[str]:
    """Dotted paths of sub-modules that have a wrappable loss method."""
    found = []
    for path, mod in model.named_modules():
        parts = path.split(".")
        named = parts[-2] if parts[-1].isdigit() and len(parts) > 1 else parts[-1]  # a stage head: roi_head.bbox_head.0
        if path and any(callable(getattr(type(mod), m, None)) for m in LOSS_METHODS) and "head" in named:
            found.append(path)
    return found


def resolve_head(model: torch.nn.Module, head: Optional[str]) -> tuple[str, torch.nn.Module]:
    """Find the head module. ``head=None`` picks ``bbox_head`` then ``rpn_head``."""
    if head is None:
        for cand in ("bbox_head", "rpn_head"):
            mod = getattr(model, cand, None)
            if isinstance(mod, torch.nn.Module) and callable(getattr(mod, "loss_by_feat", None)):
                return cand, mod
        raise ValueError(
            f"ALWAHook: {type(model).__name__} has no dense 'bbox_head' or 'rpn_head'; set head= to one of "
            f"{_candidate_heads(model)}"
        )
    mod = model
    for part in head.split("."):
        if not hasattr(mod, part) or not isinstance(getattr(mod, part), torch.nn.Module):
            raise ValueError(
                f"ALWAHook: {type(model).__name__} has no head {head!r}; heads that exist: {_candidate_heads(model)}"
            )
        mod = getattr(mod, part)
    if isinstance(mod, (torch.nn.ModuleList, torch.nn.Sequential)):  # a cascade's stage heads
        stages = [f"{head}.{i}" for i in range(len(mod))]
        raise ValueError(f"ALWAHook: {head!r} of {type(model).__name__} is a list of {len(mod)} stage heads; weigh one "
                         f"stage ({', '.join(repr(s) for s in stages)}), with one ALWAHook and its own name= per stage")
    inner = getattr(mod, "bbox_head", None)
    if isinstance(inner, torch.nn.Module):  # an RoI head: its loss returns every stage's losses under other keys
        sub = f"{head}.bbox_head" + (".0" if isinstance(inner, (torch.nn.ModuleList, torch.nn.Sequential)) else "")
        raise ValueError(f"ALWAHook: {head!r} of {type(model).__name__} holds its box head(s); name the box head, "
                         f"e.g. head={sub!r}")
    return head, mod


class ALWALossWrapper:
    """Callable replacing a head's loss method; applies the weighter to one key pair."""

    def __init__(self, original, weighter: ALWA, name: str, cls_key=None, reg_key=None, head_path: Optional[str] = None):
        self.original, self.weighter, self.name, self.head_path = original, weighter, name, head_path
        self.cls_key, self.reg_key = cls_key, reg_key
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

    def _keys(self, losses: dict) -> tuple[str, str]:
        if self.cls_key is not None or self.reg_key is not None:
            pair = (self.cls_key, self.reg_key)
            missing = [k for k in pair if k not in losses]
            if missing:
                raise KeyError(f"ALWAHook: loss key(s) {missing} not returned by the head; it returns {sorted(losses)}")
            return pair
        for pair in KEY_PAIRS:
            if pair[0] in losses and pair[1] in losses:
                return pair
        raise KeyError(
            f"ALWAHook: cannot find a classification/regression loss pair among {sorted(losses)}; "
            f"set cls_key= and reg_key= (tried {list(KEY_PAIRS)})"
        )

    def __call__(self, *args, **kwargs):
        losses = self.original(*args, **kwargs)
        ck, rk = self._keys(losses)
        w = self.weighter
        wc, wr = w.cls_weight, w.reg_weight
        cls_raw, reg_raw = losses[ck], losses[rk]
        try:
            losses[ck], losses[rk] = w(cls_raw, reg_raw)
        except (TypeError, ValueError) as e:  # name the head and the keys: the weighter knows neither
            msg = str(e).replace("cls_loss", repr(ck)).replace("reg_loss", repr(rk))
            raise type(e)(f"ALWAHook on head {self.head_path or '?'!r}: {msg}") from None
        ref = cls_raw[0] if isinstance(cls_raw, (list, tuple)) else cls_raw
        with torch.no_grad():
            def total(x):
                return torch.stack(list(x)).sum() if isinstance(x, (list, tuple)) else x.detach()

            losses[f"{self.name}_cls_weight"], losses[f"{self.name}_reg_weight"] = self._weight_tensors(wc, wr, ref.device)
            losses[f"{self.name}_cls_raw"] = total(cls_raw).detach()
            losses[f"{self.name}_reg_raw"] = total(reg_raw).detach()
        return losses


@HOOKS.register_module()
class ALWAHook(Hook):
    """Adaptive Loss Weight Adjustment for an mmdet head (see module doc)."""

    priority = "NORMAL"

    def __init__(
        self,
        head: Optional[str] = None,
        cls_key: Optional[str] = None,
        reg_key: Optional[str] = None,
        name: str = "alwa",
        adopt_checkpoint_options: bool = False,
        **alwa_options,
    ) -> None:
        if "loss" in name:
            raise ValueError(f"ALWAHook name {name!r} must not contain 'loss' (mmengine would add the logs into the total loss)")
        if not isinstance(adopt_checkpoint_options, bool):  # the string 'false' is truthy: only a real bool decides
            raise TypeError(f"ALWAHook: adopt_checkpoint_options must be True or False, got {adopt_checkpoint_options!r} "
                            f"({type(adopt_checkpoint_options).__name__})")
        self.head, self.cls_key, self.reg_key, self.name = head, cls_key, reg_key, name
        self.adopt_checkpoint_options = adopt_checkpoint_options
        self.weighter = ALWA(**alwa_options)
        self.head_path: Optional[str] = None

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
        setattr(head, method, ALWALossWrapper(current, self.weighter, self.name, self.cls_key, self.reg_key, head_path=path))
        self.head_path = path

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
        print_log(f"ALWAHook: {self.weighter!r} on head {self.head_path!r}", logger="current")
        lost = lost_custom_hooks(getattr(runner.cfg, "filename", None) or "")
        if lost:
            print_log(f"ALWAHook: this config's custom_hooks replaced its base's {lost}, which no longer run; to keep them, "
                      f"add ALWA with alwa.mmdet.with_alwa(cfg, ...) or append to the base's list", logger="current",
                      level=logging.WARNING)

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
