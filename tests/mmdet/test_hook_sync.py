"""ALWAHook's loss wrapper makes no host-device synchronisation on calls that do not end a window: nothing read back
to the host (.item(), .tolist(), .cpu(), float()/bool() of a tensor) and no tensor made from a Python number with a
device argument. Checked on the CPU with a TorchFunctionMode that records every such call."""
import torch
from torch.overrides import TorchFunctionMode

from alwa.core.weighter import ALWA
from alwa.mmdet.hook import ALWALossWrapper

READS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.cpu, torch.Tensor.__float__, torch.Tensor.__bool__,
         torch.Tensor.__int__, torch.Tensor.numpy}
FACTORIES = {torch.tensor, torch.as_tensor, torch.full, torch.ones, torch.zeros, torch.empty, torch.scalar_tensor}


class SyncSpy(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in READS or (func in FACTORIES and "device" in kwargs):
            self.calls.append(getattr(func, "__name__", str(func)))
        return func(*args, **kwargs)


def head_losses():
    return {"loss_cls": [torch.tensor(0.5 + 0.1 * i, requires_grad=True) for i in range(3)],
            "loss_bbox": [torch.tensor(0.2 + 0.05 * i, requires_grad=True) for i in range(3)]}


def test_the_spy_sees_what_it_must_flag():
    spy = SyncSpy()
    with spy:
        torch.tensor(0.5, device="cpu")
        torch.ones(2).sum().item()
    assert spy.calls == ["tensor", "item"]


def test_no_sync_on_calls_that_do_not_end_a_window():
    w = ALWA(mode="alwa2", interval=5)
    wrap = ALWALossWrapper(head_losses, w, "alwa")
    per_call = []
    for call in range(1, 16):
        spy = SyncSpy()
        with spy:
            out = wrap()
        per_call.append((call, spy.calls))
        assert "alwa_cls_weight" in out and "alwa_cls_raw" in out
    # allowed: the first call (the weights' tensors are made once), a window's end and the call after it (a new weight)
    quiet = [(c, calls) for c, calls in per_call if c != 1 and c % 5 and (c - 1) % 5]
    assert len(quiet) == 9 and per_call[0][1]  # and the spy saw the first call's factories: it can fail
    assert all(not calls for _, calls in quiet), quiet
    assert w.calls == 15 and len(w.history) == 3


def test_the_logged_weight_is_the_weight_in_force():
    w = ALWA(mode="alwa2", interval=2)
    wrap = ALWALossWrapper(head_losses, w, "alwa")
    for _ in range(4):
        before = w.cls_weight
        out = wrap()
        assert float(out["alwa_cls_weight"]) == before and float(out["alwa_reg_weight"]) == w.reg_weight


def test_a_loss_that_is_not_single_element_is_refused_naming_head_key_and_shape():
    import pytest

    def bad_head():
        return {"loss_cls": [torch.ones(4)], "loss_bbox": [torch.tensor(0.2)]}

    wrap = ALWALossWrapper(bad_head, ALWA(mode="alwa2", interval=5), "alwa", head_path="bbox_head")
    with pytest.raises(ValueError, match=r"ALWAHook on head 'bbox_head': 'loss_cls'\[0\] must be a single-element loss .*got shape \(4,\)"):
        wrap()


def test_shape_1_losses_pass_through_the_wrapper():
    def ssd_like():
        return {"loss_cls": [torch.tensor([0.5])], "loss_bbox": [torch.tensor([0.2])]}

    out = ALWALossWrapper(ssd_like, ALWA(mode="alwa2", interval=5), "alwa", head_path="bbox_head")()
    assert out["loss_cls"][0].shape == (1,) and float(out["alwa_cls_raw"]) == 0.5
