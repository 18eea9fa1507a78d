"""Which head ALWA weighs and which of its loss keys: the head found by a dotted path (cascade stage heads listed
and named, RoI heads refused with the box head to name instead), and the key families a head's loss returns
(classification: ``loss_cls``/``loss_rpn_cls``; regression: ``loss_bbox``/``loss_rpn_bbox``/``loss_iou``/``loss_dfl``,
each with the DETR family's auxiliary-layer, encoder and denoising variants). Used by :mod:`alwa.mmdet.hook`."""

from __future__ import annotations

import re
from typing import Optional

import torch

LOSS_METHODS = ("loss_by_feat", "loss")


def _candidate_heads(model: torch.nn.Module) -> list[str]:
    """Dotted paths of sub-modules that have a wrappable loss method."""
    found = []
    for path, mod in model.named_modules():
        parts = path.split(".")
        named = parts[-2] if parts[-1].isdigit() and len(parts) > 1 else parts[-1]  # a stage head: roi_head.bbox_head.0
        if (path and any(callable(getattr(type(mod), m, None)) for m in LOSS_METHODS) and "head" in named
                and not isinstance(getattr(mod, "bbox_head", None), torch.nn.Module) and not _is_mask_head(mod)):
            found.append(path)  # an RoI head (it holds its box heads) and a mask head are refused: not offered
    return found


def _is_mask_head(mod: torch.nn.Module) -> bool:
    return "mask" in type(mod).__name__.lower() and not hasattr(mod, "loss_bbox")


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
    if _is_mask_head(mod):
        raise ValueError(f"ALWAHook: {head!r} of {type(model).__name__} is a mask head ({type(mod).__name__}): ALWA weighs a "
                         f"classification loss against a box regression loss, and a mask loss is neither; heads it can "
                         f"weigh: {_candidate_heads(model)}")
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


CLS_LOSSES = ("loss_cls", "loss_rpn_cls")
REG_LOSSES = ("loss_bbox", "loss_rpn_bbox", "loss_iou", "loss_dfl")
# a DETR-family head returns its final decoder layer's losses, its auxiliary layers' (``d0.`` .. ``d4.``) and, in the
# two-stage and denoising variants, the encoder's (``enc_``) and denoising queries' (``dn_``): one family of keys each
_KEY_PREFIX = re.compile(r"^(?:d\d+\.)?(?:enc_|dn_)?")


def key_family(key: str) -> str:
    """The loss a key belongs to: ``'d3.dn_loss_iou'`` -> ``'loss_iou'``; other keys unchanged."""
    return _KEY_PREFIX.sub("", key, count=1)


def default_keys(keys) -> tuple[list[str], list[str]]:
    """The keys ALWA weighs by default among ``keys`` (what a head's loss returned), in the head's order:
    classification = the ``loss_cls``/``loss_rpn_cls`` family, regression = ``loss_bbox``/``loss_rpn_bbox``/
    ``loss_iou``/``loss_dfl`` (each with its auxiliary-layer, encoder and denoising variants). Everything else
    (centerness, objectness, YOLOX's extra L1, mask losses) is left untouched."""
    keys = list(keys)
    return [k for k in keys if key_family(k) in CLS_LOSSES], [k for k in keys if key_family(k) in REG_LOSSES]
