"""alwa.mmdet.hook: which losses ALWAHook weighs (default families, named keys), checked and logged at the first call."""
import pytest
import torch

from alwa.core.weighter import ALWA
from alwa.mmdet import hook as hook_mod
from alwa.mmdet.heads import default_keys, key_family
from alwa.mmdet.hook import ALWAHook, ALWALossWrapper

t = torch.tensor


@pytest.fixture
def logged(monkeypatch):
    lines = []
    monkeypatch.setattr(hook_mod, "print_log", lambda msg, **kw: lines.append(msg))
    return lines


def wrap(head, **kw):
    kw.setdefault("weighter", ALWA(mode="monitor", interval=100, cls_weight=0.5, reg_weight=2.0))
    w = kw.pop("weighter")
    return ALWALossWrapper(head, w, "alwa", head_path="bbox_head", head_type="FakeHead", **kw)


@pytest.mark.parametrize("key,family", [
    ("loss_cls", "loss_cls"), ("d3.loss_iou", "loss_iou"), ("enc_loss_bbox", "loss_bbox"),
    ("dn_loss_cls", "loss_cls"), ("d0.dn_loss_bbox", "loss_bbox"), ("loss_centerness", "loss_centerness"),
    ("s1.loss_cls", "s1.loss_cls"), ("loss_l1", "loss_l1"),
])
def test_key_families(key, family):
    assert key_family(key) == family


def test_default_keys_per_head_family():
    assert default_keys(["loss_cls", "loss_bbox", "loss_dfl"]) == (["loss_cls"], ["loss_bbox", "loss_dfl"])  # GFL
    assert default_keys(["loss_cls", "loss_bbox", "loss_obj", "loss_l1"]) == (["loss_cls"], ["loss_bbox"])  # YOLOX
    assert default_keys(["loss_cls", "loss_bbox", "loss_centerness"]) == (["loss_cls"], ["loss_bbox"])  # FCOS, ATSS
    detr = ["loss_cls", "loss_bbox", "loss_iou"] + [f"d{i}.{k}" for i in range(2) for k in ("loss_cls", "loss_bbox", "loss_iou")]
    assert default_keys(detr) == (["loss_cls", "d0.loss_cls", "d1.loss_cls"],
                                  ["loss_bbox", "loss_iou", "d0.loss_bbox", "d0.loss_iou", "d1.loss_bbox", "d1.loss_iou"])
    dino = ["enc_loss_cls", "enc_loss_bbox", "dn_loss_cls", "dn_loss_iou", "d0.dn_loss_cls", "acc"]
    assert default_keys(dino) == (["enc_loss_cls", "dn_loss_cls", "d0.dn_loss_cls"], ["enc_loss_bbox", "dn_loss_iou"])
    assert default_keys(["loss_rpn_cls", "loss_rpn_bbox"]) == (["loss_rpn_cls"], ["loss_rpn_bbox"])


def test_gfl_like_head_weighs_both_regression_terms_and_logs_their_sum(logged):
    def gfl():
        return {"loss_cls": [t(1.0), t(2.0)], "loss_bbox": [t(0.5), t(0.25)], "loss_dfl": [t(0.125), t(0.125)]}

    out = wrap(gfl)()
    assert [float(x) for x in out["loss_cls"]] == [0.5, 1.0]
    assert [float(x) for x in out["loss_bbox"]] == [1.0, 0.5] and [float(x) for x in out["loss_dfl"]] == [0.25, 0.25]
    assert float(out["alwa_cls_raw"]) == 3.0 and float(out["alwa_reg_raw"]) == 1.0
    assert logged == ["ALWAHook 'alwa' on head 'bbox_head' (FakeHead): weighs ['loss_cls'] (classification) against "
                      "['loss_bbox', 'loss_dfl'] (regression); left untouched: []"]


def test_untouched_keys_are_listed_and_kept_and_a_new_key_set_is_logged_again(logged):
    state = {"l1": False}

    def yolox():
        out = {"loss_cls": t(1.0), "loss_bbox": t(2.0), "loss_obj": t(3.0)}
        if state["l1"]:
            out["loss_l1"] = t(4.0)
        return out

    w = wrap(yolox)
    out = w()
    assert (float(out["loss_cls"]), float(out["loss_bbox"]), float(out["loss_obj"])) == (0.5, 4.0, 3.0)
    assert out["loss_cls"].shape == () and "left untouched: ['loss_obj']" in logged[-1]
    w()
    assert len(logged) == 1  # the same keys: said once
    state["l1"] = True
    out = w()
    assert float(out["loss_l1"]) == 4.0 and len(logged) == 2
    assert "(the head returns other keys now)" in logged[-1] and "left untouched: ['loss_obj', 'loss_l1']" in logged[-1]


def test_one_side_named_the_other_defaulted_and_a_typo_names_what_the_head_returns():
    def fcos():
        return {"loss_cls": t(1.0), "loss_bbox": t(2.0), "loss_centerness": t(3.0)}

    out = wrap(fcos, reg_keys=["loss_bbox", "loss_centerness"])()
    assert (float(out["loss_cls"]), float(out["loss_bbox"]), float(out["loss_centerness"])) == (0.5, 4.0, 6.0)
    with pytest.raises(KeyError) as e:
        wrap(fcos, cls_keys="loss_cenerness")()
    msg = e.value.args[0]
    assert ("cls_keys=['loss_cenerness'] names ['loss_cenerness'], which the head does not return; it returns "
            "['loss_cls', 'loss_bbox', 'loss_centerness']") in msg
    assert "None" not in msg and "'bbox_head' (FakeHead)" in msg


def test_a_head_without_a_default_family_asks_for_keys():
    with pytest.raises(KeyError, match=r"no regression loss among \['loss_cls', 'loss_obj'\].*name them with reg_keys="):
        wrap(lambda: {"loss_cls": t(1.0), "loss_obj": t(2.0)})()


def test_keys_that_are_not_losses_or_on_both_sides_are_refused():
    with pytest.raises(ValueError, match=r"reg_keys \['acc'\] are not losses"):
        wrap(lambda: {"loss_cls": t(1.0), "acc": t(2.0)}, reg_keys=["acc"])()
    with pytest.raises(ValueError, match=r"\['loss_bbox'\] named as both classification and regression"):
        ALWAHook(cls_keys=["loss_cls", "loss_bbox"], reg_keys="loss_bbox")
    with pytest.raises(ValueError, match="give cls_keys= or cls_key="):
        ALWAHook(cls_key="loss_cls", cls_keys=["loss_cls"])
    with pytest.raises(TypeError, match="reg_keys must be a loss key or a non-empty list"):
        ALWAHook(reg_keys=[])


def test_the_older_one_key_spelling_still_works():
    h = ALWAHook(cls_key="loss_rpn_cls", reg_key="loss_rpn_bbox")
    assert (h.cls_keys, h.reg_keys) == (["loss_rpn_cls"], ["loss_rpn_bbox"])


def test_a_bad_level_is_named_by_its_key_and_level():
    def bad():
        return {"loss_cls": t(1.0), "loss_bbox": [t(0.1)], "loss_dfl": [t(0.2), torch.ones(3)]}

    with pytest.raises(ValueError, match=r"ALWAHook on head 'bbox_head': 'loss_dfl'\[1\] must be a single-element loss"):
        wrap(bad)()


def test_a_weight_per_key_is_refused_not_dropped():
    with pytest.raises(TypeError, match=r"cls_keys must be a loss key or a list of loss keys, got a mapping \{'loss_cls': 2.0\}"):
        ALWAHook(cls_keys={"loss_cls": 2.0})
    with pytest.raises(TypeError, match="cls_key must be"):
        ALWAHook(cls_key={"loss_cls": 2.0})
