"""Box shifting: the argument of the paper's section 3 (figure 2, claim C1), made checkable.

A predicted/anchor box is moved relative to a ground-truth box; for each
position we compute the IoU, the label RetinaNet's assigner gives it, the
classification loss of that label at a predicted score, and the regression
loss of the remaining offset for L1, SmoothL1 (on DeltaXYWH-encoded targets)
and GIoU, DIoU, CIoU (on boxes). Library implementations are used
throughout: ``torchvision.ops`` for IoU, focal and IoU-family losses, and
torchvision's ``BoxCoder`` for the DeltaXYWH encoding (tests compare it with
mmdet's ``DeltaXYWHBBoxCoder``).

Conventions and shapes:

* boxes are ``(..., 4)`` tensors ``(x1, y1, x2, y2)`` in pixels, float;
  width = x2 - x1 (mmdet 3 / torchvision convention, no +1);
* the ground truth ``gt`` is one box ``(4,)``; the moved boxes are ``(N, 4)``;
* labels: 1 positive (IoU >= ``pos_iou``), 0 negative (IoU < ``neg_iou``),
  -1 ignored (in between) — mmdet's ``MaxIoUAssigner`` thresholds of RetinaNet
  (0.5 / 0.4), applied to each box on its own (the assigner's extra rule that
  makes each ground truth's best anchor positive is left out: it needs the
  whole anchor set);
* losses are per box, ``(N,)``; "counted" losses are what a detector adds up:
  the classification loss of positives and negatives (ignored boxes count 0),
  the regression loss of positives only.

CIoU: torchvision's ``complete_box_iou_loss`` follows the paper's Eq. 6
(alpha = v / (1 - IoU + v) everywhere); mmdet's ``CIoULoss``, used in
training, sets alpha = 0 where IoU <= 0.5 (it equals DIoU there). The tests
check both facts.

Score models (the classifier's predicted foreground probability ``p`` for a
box, which the paper does not specify): ``"iou"`` — ``p = IoU`` (a classifier
whose confidence tracks the overlap), ``"constant"`` — ``p = score`` for every
box, ``"logistic"`` — ``p = sigmoid(k (IoU - c))``. Probabilities are clipped
to ``[eps, 1 - eps]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch.nn import functional as F
from torchvision.models.detection._utils import BoxCoder
from torchvision.ops import (
    complete_box_iou_loss,
    distance_box_iou_loss,
    generalized_box_iou_loss,
    sigmoid_focal_loss,
)

REG_LOSSES = ("L1", "SmoothL1", "GIoU", "DIoU", "CIoU")
SCORE_MODELS = ("iou", "constant", "logistic")


# ------------------------------------------------------------------ boxes
def _check_boxes(name: str, boxes: torch.Tensor) -> torch.Tensor:
    if not isinstance(boxes, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of (x1, y1, x2, y2) boxes, got {type(boxes).__name__}")
    if boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have a last dimension of 4 (x1, y1, x2, y2), got shape {tuple(boxes.shape)}")
    if not boxes.is_floating_point():
        boxes = boxes.float()
    w, h = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    if not torch.isfinite(boxes).all():
        raise ValueError(f"{name} has non-finite coordinates")
    if (w <= 0).any() or (h <= 0).any():
        bad = torch.nonzero((w <= 0) | (h <= 0)).flatten().tolist()[:5]
        raise ValueError(f"{name} has degenerate boxes (x2 <= x1 or y2 <= y1) at {bad}: width and height must be > 0")
    return boxes


def box_from_center(cx: float, cy: float, w: float, h: float, dtype=torch.float32, device=None) -> torch.Tensor:
    """(4,) box from centre and size."""
    return torch.tensor([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=dtype, device=device)


def shift(gt: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, scale: torch.Tensor | float = 1.0,
          aspect: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Boxes derived from ``gt`` (4,): centre moved by (dx, dy) in *units of the gt
    width/height*, area scaled by ``scale**2``, aspect (w/h) multiplied by ``aspect``.
    Arguments broadcast; returns (N, 4)."""
    gt = _check_boxes("gt", gt)
    dx, dy, scale, aspect = torch.broadcast_tensors(*(torch.as_tensor(v, dtype=gt.dtype, device=gt.device) for v in (dx, dy, scale, aspect)))
    if (scale <= 0).any() or (aspect <= 0).any():
        raise ValueError("scale and aspect must be > 0")
    w, h = gt[2] - gt[0], gt[3] - gt[1]
    cx, cy = (gt[0] + gt[2]) / 2 + dx * w, (gt[1] + gt[3]) / 2 + dy * h
    nw, nh = w * scale * aspect.sqrt(), h * scale / aspect.sqrt()
    return torch.stack([cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2], dim=-1).reshape(-1, 4)


def slide_1d(gt: torch.Tensor, offsets: torch.Tensor, axis: str = "x") -> torch.Tensor:
    """(N, 4) copies of ``gt`` slid along ``axis`` by ``offsets`` (units of gt width/height)."""
    gt = _check_boxes("gt", gt)
    offsets = torch.as_tensor(offsets, dtype=gt.dtype, device=gt.device)
    zero = torch.zeros_like(offsets)
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    return shift(gt, offsets, zero) if axis == "x" else shift(gt, zero, offsets)


def grid_2d(gt: torch.Tensor, dxs: torch.Tensor, dys: torch.Tensor) -> torch.Tensor:
    """(len(dys) * len(dxs), 4) boxes on a grid of offsets, row-major over (dy, dx)."""
    gt = _check_boxes("gt", gt)
    yy, xx = torch.meshgrid(torch.as_tensor(dys, dtype=gt.dtype, device=gt.device),
                            torch.as_tensor(dxs, dtype=gt.dtype, device=gt.device), indexing="ij")
    return shift(gt, xx.flatten(), yy.flatten())


# ------------------------------------------------------------------ labels and losses
def _paired(gt: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """``gt`` (4,) or (N, 4) broadcast to the (N, 4) shape of ``boxes``."""
    if gt.dim() == 1:
        return gt.reshape(1, 4).expand_as(boxes)
    if gt.shape != boxes.shape:
        raise ValueError(f"gt of shape {tuple(gt.shape)} does not pair with boxes of shape {tuple(boxes.shape)}")
    return gt


def iou(gt: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """(N,) IoU of each box with its ground truth (``gt`` (4,) for all, or (N, 4) paired).

    Computed elementwise (tests compare it with ``torchvision.ops.box_iou``)."""
    gt, boxes = _check_boxes("gt", gt), _check_boxes("boxes", boxes)
    g = _paired(gt, boxes)
    lt = torch.maximum(g[:, :2], boxes[:, :2])
    rb = torch.minimum(g[:, 2:], boxes[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    return inter / (area(g) + area(boxes) - inter)


def assign(ious: torch.Tensor, pos_iou: float = 0.5, neg_iou: float = 0.4) -> torch.Tensor:
    """(N,) long labels: 1 positive, 0 negative, -1 ignored (MaxIoUAssigner thresholds)."""
    if not (0.0 <= neg_iou <= pos_iou <= 1.0):
        raise ValueError(f"need 0 <= neg_iou <= pos_iou <= 1, got {neg_iou}, {pos_iou}")
    labels = torch.full_like(ious, -1, dtype=torch.long)
    labels[ious < neg_iou] = 0
    labels[ious >= pos_iou] = 1
    return labels


def score_of(ious: torch.Tensor, model: str = "iou", score: float = 0.5, k: float = 20.0, c: float = 0.45,
             eps: float = 1e-4) -> torch.Tensor:
    """(N,) predicted foreground probability under a score model (see module doc)."""
    if model == "iou":
        p = ious.clone()
    elif model == "constant":
        p = torch.full_like(ious, float(score))
    elif model == "logistic":
        p = torch.sigmoid(k * (ious - c))
    else:
        raise ValueError(f"unknown score model {model!r}; expected one of {SCORE_MODELS}")
    return p.clamp(eps, 1 - eps)


def cls_loss(p: torch.Tensor, labels: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """(N,) sigmoid focal loss (torchvision) of foreground probability ``p`` for the
    assigned label; ignored boxes (label -1) get 0. Gradients flow to ``p``."""
    logits = torch.logit(p)
    target = (labels == 1).to(p.dtype)
    loss = sigmoid_focal_loss(logits, target, alpha=alpha, gamma=gamma, reduction="none")
    return torch.where(labels >= 0, loss, torch.zeros_like(loss))


_CODER = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))  # DeltaXYWH, means 0, stds 1 (RetinaNet/RPN in mmdet)


def encode_deltas(anchors: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """(N, 4) DeltaXYWH regression targets of ``gt`` relative to each anchor."""
    anchors = _check_boxes("anchors", anchors)
    gt = _check_boxes("gt", gt)
    return _CODER.encode_single(_paired(gt, anchors), anchors)


def reg_loss(kind: str, boxes: torch.Tensor, gt: torch.Tensor, beta: float = 1.0,
             deltas: torch.Tensor | None = None) -> torch.Tensor:
    """(N,) regression loss of the remaining offset between each box and ``gt``.

    For L1/SmoothL1 the box acts as the anchor and predicts zero deltas, so the
    loss is that of the encoded target (sum over the 4 deltas; SmoothL1 with
    ``beta``). Pass ``deltas`` (N, 4) to evaluate other predicted deltas (and
    get gradients w.r.t. them). For GIoU/DIoU/CIoU the box itself is the
    prediction (torchvision's losses, which give gradients w.r.t. ``boxes``).
    """
    if kind in ("L1", "SmoothL1"):
        target = encode_deltas(boxes.detach(), gt)
        pred = torch.zeros_like(target) if deltas is None else deltas
        if kind == "L1":
            return F.l1_loss(pred, target, reduction="none").sum(-1)
        return F.smooth_l1_loss(pred, target, beta=beta, reduction="none").sum(-1)
    gts = _paired(gt, boxes)
    if kind == "GIoU":
        return generalized_box_iou_loss(boxes, gts, reduction="none")
    if kind == "DIoU":
        return distance_box_iou_loss(boxes, gts, reduction="none")
    if kind == "CIoU":
        return complete_box_iou_loss(boxes, gts, reduction="none")
    raise ValueError(f"unknown regression loss {kind!r}; expected one of {REG_LOSSES}")


# ------------------------------------------------------------------ one sweep
@dataclass
class ShiftResult:
    """Everything along a set of moved boxes; all tensors (N,) unless noted."""

    boxes: torch.Tensor  # (N, 4)
    iou: torch.Tensor
    labels: torch.Tensor  # (N,) long: 1 positive, 0 negative, -1 ignored
    score: torch.Tensor
    cls: torch.Tensor  # counted (ignored -> 0)
    reg: dict  # kind -> raw loss (every box)
    reg_counted: dict  # kind -> loss of positives, 0 elsewhere
    cls_grad: torch.Tensor  # |d cls / d logit|
    reg_grad: dict  # kind -> ||d loss / d (deltas or box)||_2

    def as_rows(self) -> list[dict]:
        rows = []
        for i in range(len(self.iou)):
            r = dict(iou=float(self.iou[i]), label=int(self.labels[i]), score=float(self.score[i]), cls=float(self.cls[i]),
                     cls_grad=float(self.cls_grad[i]))
            for k in self.reg:
                r[k] = float(self.reg[k][i])
                r[f"{k}_counted"] = float(self.reg_counted[k][i])
                r[f"{k}_grad"] = float(self.reg_grad[k][i])
            rows.append(r)
        return rows


def analyse(gt: torch.Tensor, boxes: torch.Tensor, reg_kinds: Sequence[str] = REG_LOSSES, score_model: str = "iou",
            pos_iou: float = 0.5, neg_iou: float = 0.4, beta: float = 1.0, **score_kw) -> ShiftResult:
    """IoU, label, score, counted losses and gradient norms for each box."""
    gt, boxes = _check_boxes("gt", gt), _check_boxes("boxes", boxes)
    ious = iou(gt, boxes)
    labels = assign(ious, pos_iou, neg_iou)
    p = score_of(ious, score_model, **score_kw)
    logits = torch.logit(p).detach().requires_grad_(True)
    lc = cls_loss(torch.sigmoid(logits), labels)
    (g_logit,) = torch.autograd.grad(lc.sum(), logits)
    pos = labels == 1
    reg, counted, grads = {}, {}, {}
    for kind in reg_kinds:
        if kind in ("L1", "SmoothL1"):
            d = torch.zeros(len(boxes), 4, dtype=boxes.dtype, device=boxes.device, requires_grad=True)
            lr = reg_loss(kind, boxes, gt, beta=beta, deltas=d)
            (g,) = torch.autograd.grad(lr.sum(), d)
        else:
            b = boxes.detach().clone().requires_grad_(True)
            lr = reg_loss(kind, b, gt)
            (g,) = torch.autograd.grad(lr.sum(), b)
        reg[kind] = lr.detach()
        counted[kind] = torch.where(pos, lr.detach(), torch.zeros_like(lr.detach()))
        grads[kind] = g.norm(dim=-1)
    return ShiftResult(boxes, ious, labels, p.detach(), lc.detach(), reg, counted, g_logit.abs(), grads)


# ------------------------------------------------------------------ claim C1
def random_gts(n: int, generator: torch.Generator, scale_range=(16.0, 256.0), aspect_range=(1 / 3, 3.0)) -> torch.Tensor:
    """(n, 4) ground truths centred at 0 with log-uniform size and aspect."""
    u = torch.rand(n, 2, generator=generator, dtype=torch.float64)
    s = torch.exp(math.log(scale_range[0]) + u[:, 0] * (math.log(scale_range[1]) - math.log(scale_range[0])))
    a = torch.exp(math.log(aspect_range[0]) + u[:, 1] * (math.log(aspect_range[1]) - math.log(aspect_range[0])))
    w, h = s * a.sqrt(), s / a.sqrt()
    return torch.stack([-w / 2, -h / 2, w / 2, h / 2], -1).float()


def c1_table(n_gt: int = 200, shifts_per_gt: int = 50, shift_ranges: Iterable[float] = (0.1, 0.25, 0.5, 1.0),
             score_models: Iterable[str] = ("iou", "constant", "logistic"), reg_kinds: Sequence[str] = REG_LOSSES,
             scale_jitter: float = 0.25, seed: int = 0, beta: float = 1.0) -> list[dict]:
    """Std, mean, coefficient of variation and mean gradient norm of the
    classification loss vs each regression loss, over random ground truths and
    random moves of them.

    A move: centre offsets uniform in ``[-r, r]`` (units of gt width/height),
    size and aspect multiplied by ``exp(U[-j, j])``. Per (shift range, score
    model, regression loss) one row with both the "counted" statistics (what a
    detector sums: cls of positives+negatives, reg of positives) and the
    "all" statistics (the losses of every move). ``c1_holds`` compares the
    counted standard deviations, the quantity ALWA-2 compares;
    ``c1_holds_cv`` compares the scale-free coefficients of variation.
    """
    g = torch.Generator().manual_seed(seed)
    gts = random_gts(n_gt, g)
    rows = []
    for r in shift_ranges:
        u = (torch.rand(n_gt, shifts_per_gt, 4, generator=g, dtype=torch.float64) * 2 - 1).float()
        w, h = (gts[:, 2] - gts[:, 0])[:, None], (gts[:, 3] - gts[:, 1])[:, None]
        cx, cy = (u[..., 0] * r) * w, (u[..., 1] * r) * h  # gts are centred at 0
        sc, asp = torch.exp(u[..., 2] * scale_jitter), torch.exp(u[..., 3] * scale_jitter)
        nw, nh = w * sc * asp.sqrt(), h * sc / asp.sqrt()
        boxes = torch.stack([cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2], -1).reshape(-1, 4)
        paired = gts[:, None, :].expand(n_gt, shifts_per_gt, 4).reshape(-1, 4)
        results = {m: [analyse(paired, boxes, reg_kinds, score_model=m, beta=beta)] for m in score_models}
        for m in score_models:
            res = results[m]
            label = torch.cat([x.labels for x in res])
            cls_all = torch.cat([x.cls for x in res])
            cls_grad = torch.cat([x.cls_grad for x in res])
            counted_cls = cls_all[label >= 0]
            for k in reg_kinds:
                reg_all = torch.cat([x.reg[k] for x in res])
                reg_cnt = torch.cat([x.reg_counted[k] for x in res])
                reg_grad = torch.cat([x.reg_grad[k] for x in res])
                pos = label == 1

                def stats(x):
                    x = x.double()
                    if x.numel() < 2:
                        return math.nan, math.nan, math.nan
                    m_, s_ = float(x.mean()), float(x.std())
                    return m_, s_, (s_ / m_ if m_ > 0 else math.nan)

                cm, cs, ccv = stats(counted_cls)
                rm, rs, rcv = stats(reg_cnt[label >= 0])
                am, as_, acv = stats(reg_all)
                rows.append(dict(
                    shift_range=r, score_model=m, reg_loss=k, samples=int(label.numel()),
                    frac_pos=float((label == 1).double().mean()), frac_ignored=float((label == -1).double().mean()),
                    cls_mean=cm, cls_std=cs, cls_cv=ccv,
                    reg_mean=rm, reg_std=rs, reg_cv=rcv,
                    reg_all_mean=am, reg_all_std=as_, reg_all_cv=acv,
                    cls_grad_mean=float(cls_grad[label >= 0].mean()),
                    reg_grad_mean_pos=float(reg_grad[pos].mean()) if pos.any() else math.nan,
                    std_ratio=cs / rs if rs > 0 else math.inf,
                    cv_ratio=ccv / rcv if rcv > 0 else math.inf,
                    c1_holds=bool(cs > rs),
                    c1_holds_cv=bool(ccv > rcv),
                ))
    return rows
