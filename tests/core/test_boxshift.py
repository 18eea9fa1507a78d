"""alwa.core.boxshift: hand-computed IoUs and labels, equality with mmdet's losses and
box coder, gradients, named invariances, shapes/dtypes and clear errors."""

import math

import pytest
import torch

from alwa.core import boxshift as b

GT = torch.tensor([0.0, 0.0, 10.0, 10.0])


# ------------------------------------------------------------------ hand-computed
@pytest.mark.parametrize(
    "dx, iou, label",
    [
        (0.0, 1.0, 1),
        (0.2, 80 / 120, 1),
        (1 / 3, 0.5, 1),  # exactly at the positive threshold: positive
        (0.4, 60 / 140, -1),  # between 0.4 and 0.5: ignored
        (0.5, 50 / 150, 0),
        (1.0, 0.0, 0),
    ],
)
def test_iou_and_assignment_by_hand(dx, iou, label):
    boxes = b.slide_1d(GT.double(), torch.tensor([dx], dtype=torch.float64))
    got = b.iou(GT.double(), boxes)
    assert float(got[0]) == pytest.approx(iou, abs=1e-9)
    assert int(b.assign(got)[0]) == label


def test_shift_scale_and_aspect_by_hand():
    box = b.shift(GT, torch.tensor(0.5), torch.tensor(-1.0), scale=2.0, aspect=4.0)
    # centre (5 + 5, 5 - 10) = (10, -5); w = 10*2*2 = 40, h = 10*2/2 = 10
    torch.testing.assert_close(box[0], torch.tensor([-10.0, -10.0, 30.0, 0.0]))
    grid = b.grid_2d(GT, torch.tensor([-0.1, 0.0, 0.1]), torch.tensor([0.0, 0.2]))
    assert grid.shape == (6, 4)
    torch.testing.assert_close(grid[5], torch.tensor([1.0, 2.0, 11.0, 12.0]))


def test_focal_loss_by_hand():
    p = torch.tensor([0.5, 0.4, 0.45])
    labels = torch.tensor([1, 0, -1])
    got = b.cls_loss(p, labels)
    want = [0.25 * 0.5**2 * -math.log(0.5), 0.75 * 0.4**2 * -math.log(0.6), 0.0]
    torch.testing.assert_close(got, torch.tensor(want), rtol=1e-5, atol=1e-7)


def test_deltas_by_hand():
    anchors = torch.tensor([[0.0, 0.0, 20.0, 10.0]])
    gt = torch.tensor([10.0, 0.0, 20.0, 20.0])
    d = b.encode_deltas(anchors, gt)[0]
    # anchor centre (10, 5) size (20, 10); gt centre (15, 10) size (10, 20)
    torch.testing.assert_close(d, torch.tensor([5 / 20, 5 / 10, math.log(0.5), math.log(2.0)]))
    assert float(b.reg_loss("L1", anchors, gt)[0]) == pytest.approx(0.25 + 0.5 + 2 * math.log(2), rel=1e-6)


# ------------------------------------------------------------------ against mmdet
@pytest.fixture(scope="module")
def moved():
    g = torch.Generator().manual_seed(0)
    gt = torch.tensor([20.0, 30.0, 80.0, 60.0])
    u = torch.rand(64, 4, generator=g) * 2 - 1
    return gt, b.shift(gt, u[:, 0] * 0.6, u[:, 1] * 0.6, torch.exp(u[:, 2] * 0.4), torch.exp(u[:, 3] * 0.4))


def test_deltas_equal_mmdet_coder(moved):
    from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder

    gt, boxes = moved
    ref = DeltaXYWHBBoxCoder(target_means=(0.0,) * 4, target_stds=(1.0,) * 4).encode(boxes, gt.expand_as(boxes))
    torch.testing.assert_close(b.encode_deltas(boxes, gt), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["L1", "SmoothL1", "GIoU", "DIoU", "CIoU"])
def test_regression_losses_equal_mmdet(moved, kind):
    import importlib

    from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder

    iou_loss = importlib.import_module("mmdet.models.losses.iou_loss")
    sl1 = importlib.import_module("mmdet.models.losses.smooth_l1_loss")

    gt, boxes = moved
    got = b.reg_loss(kind, boxes, gt, beta=0.5)
    if kind in ("L1", "SmoothL1"):
        target = DeltaXYWHBBoxCoder(target_means=(0.0,) * 4, target_stds=(1.0,) * 4).encode(boxes, gt.expand_as(boxes))
        pred = torch.zeros_like(target)
        ref = (sl1.l1_loss(pred, target, reduction="none") if kind == "L1"
               else sl1.smooth_l1_loss(pred, target, beta=0.5, reduction="none")).sum(-1)
    else:
        fn = {"GIoU": iou_loss.giou_loss, "DIoU": iou_loss.diou_loss, "CIoU": iou_loss.ciou_loss}[kind]
        ref = fn(boxes, gt.expand_as(boxes), reduction="none")
    if kind == "CIoU":
        # mmdet drops the aspect term (alpha = 0) where IoU <= 0.5; torchvision and the
        # paper's Eq. 6 keep it. Equal above 0.5; below, mmdet's CIoU equals DIoU.
        hi = b.iou(gt, boxes) > 0.5
        assert hi.any() and (~hi).any()
        torch.testing.assert_close(got[hi], ref[hi], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(ref[~hi], b.reg_loss("DIoU", boxes, gt)[~hi], rtol=1e-4, atol=1e-5)
        assert (got[~hi] >= ref[~hi] - 1e-6).all()
        return
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


def test_focal_equals_mmdet(moved):
    from mmdet.models.losses.focal_loss import py_sigmoid_focal_loss

    gt, boxes = moved
    ious = b.iou(gt, boxes)
    labels = b.assign(ious)
    p = b.score_of(ious)
    ours = b.cls_loss(p, labels)
    keep = labels >= 0
    target = (labels == 1).long()
    ref = py_sigmoid_focal_loss(torch.logit(p)[:, None], target[:, None].float(), reduction="none")[:, 0]
    torch.testing.assert_close(ours[keep], ref[keep], rtol=1e-5, atol=1e-7)
    assert (ours[~keep] == 0).all()


# ------------------------------------------------------------------ gradients
def test_gradient_norms_match_finite_differences():
    gt = torch.tensor([0.0, 0.0, 40.0, 20.0], dtype=torch.float64)
    boxes = b.shift(gt, torch.tensor([0.15]), torch.tensor([-0.05]), 1.1, 0.9)
    r = b.analyse(gt, boxes, ["GIoU"])
    eps = 1e-6
    num = torch.zeros(4, dtype=torch.float64)
    for j in range(4):
        e = torch.zeros(4, dtype=torch.float64)
        e[j] = eps
        num[j] = (b.reg_loss("GIoU", boxes + e, gt) - b.reg_loss("GIoU", boxes - e, gt))[0] / (2 * eps)
    assert float(r.reg_grad["GIoU"][0]) == pytest.approx(float(num.norm()), rel=1e-5)
    # d focal / d logit for a positive with p = IoU, by finite differences on the logit
    x = torch.logit(r.score.double())
    f = lambda z: b.cls_loss(torch.sigmoid(z), r.labels)  # noqa: E731
    fd = (f(x + eps) - f(x - eps)) / (2 * eps)
    assert float(r.cls_grad[0]) == pytest.approx(abs(float(fd[0])), rel=1e-5)


# ------------------------------------------------------------------ properties
def test_translation_invariance(moved):
    gt, boxes = moved
    t = torch.tensor([13.0, -7.0, 13.0, -7.0])
    a, c = b.analyse(gt, boxes), b.analyse(gt + t, boxes + t)
    torch.testing.assert_close(a.iou, c.iou)
    for k in b.REG_LOSSES:
        torch.testing.assert_close(a.reg[k], c.reg[k], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["L1", "SmoothL1", "GIoU", "DIoU", "CIoU"])
def test_scale_invariance_of_normalised_losses(moved, kind):
    """Deltas and IoU-family losses do not change when the whole scene is scaled."""
    gt, boxes = moved
    torch.testing.assert_close(b.reg_loss(kind, boxes * 3.0, gt * 3.0), b.reg_loss(kind, boxes, gt), rtol=1e-4, atol=1e-5)


def test_counted_losses_follow_the_labels(moved):
    gt, boxes = moved
    r = b.analyse(gt, boxes)
    pos = r.labels == 1
    for k in b.REG_LOSSES:
        assert (r.reg_counted[k][~pos] == 0).all()
        torch.testing.assert_close(r.reg_counted[k][pos], r.reg[k][pos])
    assert (r.cls[r.labels == -1] == 0).all()
    assert pos.any() and (r.labels == 0).any()


def test_shapes_and_dtypes(moved):
    gt, boxes = moved
    for dtype in (torch.float32, torch.float64):
        r = b.analyse(gt.to(dtype), boxes.to(dtype))
        for t in [r.iou, r.score, r.cls, r.cls_grad, *r.reg.values(), *r.reg_grad.values()]:
            assert t.shape == (64,) and t.dtype == dtype and t.device == boxes.device
        assert r.labels.dtype == torch.long
    assert len(r.as_rows()) == 64 and "CIoU_grad" in r.as_rows()[0]


# ------------------------------------------------------------------ errors
def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="degenerate boxes"):
        b.iou(torch.tensor([5.0, 0.0, 5.0, 10.0]), GT[None])
    with pytest.raises(ValueError, match=r"degenerate boxes .* at \[1\]"):
        b.analyse(GT, torch.tensor([[0.0, 0, 1, 1], [3.0, 3, 2, 5]]))
    with pytest.raises(ValueError, match="last dimension of 4"):
        b.iou(GT, torch.zeros(3, 5))
    with pytest.raises(TypeError, match="must be a tensor"):
        b.iou([0, 0, 1, 1], GT[None])
    with pytest.raises(ValueError, match="non-finite"):
        b.iou(torch.tensor([0.0, 0.0, float("nan"), 1.0]), GT[None])
    with pytest.raises(ValueError, match="unknown regression loss"):
        b.reg_loss("IoU2", GT[None], GT)
    with pytest.raises(ValueError, match="unknown score model"):
        b.score_of(torch.tensor([0.5]), "oracle")
    with pytest.raises(ValueError, match="neg_iou <= pos_iou"):
        b.assign(torch.tensor([0.5]), pos_iou=0.3, neg_iou=0.4)
    with pytest.raises(ValueError, match="scale and aspect must be > 0"):
        b.shift(GT, 0.0, 0.0, scale=0.0)


# ------------------------------------------------------------------ C1 table
def test_c1_table_is_complete_finite_and_deterministic():
    kw = dict(n_gt=6, shifts_per_gt=10, shift_ranges=(0.25, 1.0), score_models=("iou", "constant"), seed=3)
    rows = b.c1_table(**kw)
    assert len(rows) == 2 * 2 * len(b.REG_LOSSES)
    for r in rows:
        assert r["samples"] == 60 and r["cls_std"] >= 0 and r["reg_all_std"] > 0
        assert r["c1_holds"] == (r["cls_std"] > r["reg_std"])
    assert rows == b.c1_table(**kw)
    assert rows != b.c1_table(**{**kw, "seed": 4})


def test_paired_iou_equals_torchvision_box_iou(moved):
    from torchvision.ops import box_iou

    gt, boxes = moved
    torch.testing.assert_close(b.iou(gt, boxes), box_iou(boxes, gt[None])[:, 0])
    other = boxes.flip(0)
    torch.testing.assert_close(b.iou(other, boxes), box_iou(boxes, other).diagonal())
    with pytest.raises(ValueError, match="does not pair"):
        b.iou(boxes[:3], boxes)


def test_batched_analysis_equals_one_ground_truth_at_a_time(moved):
    gt, boxes = moved
    gt2 = gt + torch.tensor([5.0, 5.0, 25.0, 15.0])
    both = b.analyse(torch.cat([gt.expand(64, 4), gt2.expand(64, 4)]), torch.cat([boxes, boxes]))
    one = b.analyse(gt2, boxes)
    torch.testing.assert_close(both.cls[64:], one.cls)
    for k in b.REG_LOSSES:
        torch.testing.assert_close(both.reg[k][64:], one.reg[k])
        torch.testing.assert_close(both.reg_grad[k][64:], one.reg_grad[k])
