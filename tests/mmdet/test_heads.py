"""alwa.mmdet.heads.resolve_head on stock detectors: cascade stage heads are listed and named, RoI heads refused at once."""
import pytest
from mmengine.config import Config

from alwa.mmdet.configs import MMDET_CONFIGS
from alwa.mmdet.heads import _candidate_heads, resolve_head


@pytest.fixture(scope="module")
def cascade():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules()
    cfg = Config.fromfile(str(MMDET_CONFIGS / "cascade_rcnn" / "cascade-rcnn_r50_fpn_1x_coco.py"))
    cfg.model.backbone.init_cfg = None  # nothing to download: the model is built, not trained
    return MODELS.build(cfg.model)


def test_cascade_stage_heads_are_candidates_and_a_head_that_is_refused_is_not_offered(cascade):
    heads = _candidate_heads(cascade)
    assert {"rpn_head", "roi_head.bbox_head.0", "roi_head.bbox_head.1", "roi_head.bbox_head.2"} <= set(heads)
    assert "roi_head" not in heads  # it was offered, then refused


def test_a_mask_head_is_refused_saying_why_and_which_heads_can_be_weighed():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules()
    cfg = Config.fromfile(str(MMDET_CONFIGS / "mask_rcnn" / "mask-rcnn_r50_fpn_1x_coco.py"))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    with pytest.raises(ValueError, match=r"'roi_head.mask_head' of MaskRCNN is a mask head \(FCNMaskHead\): ALWA weighs a "
                                         r"classification loss against a box regression loss.*heads it can weigh: "
                                         r"\['rpn_head', 'roi_head.bbox_head'\]"):
        resolve_head(model, "roi_head.mask_head")
    assert "roi_head.mask_head" not in _candidate_heads(model)


def test_the_stage_list_is_refused_naming_each_stage(cascade):
    with pytest.raises(ValueError, match=r"'roi_head.bbox_head' of CascadeRCNN is a list of 3 stage heads; weigh one stage "
                                         r"\('roi_head.bbox_head.0', 'roi_head.bbox_head.1', 'roi_head.bbox_head.2'\)"):
        resolve_head(cascade, "roi_head.bbox_head")
    path, head = resolve_head(cascade, "roi_head.bbox_head.1")
    assert path == "roi_head.bbox_head.1" and type(head).__name__ == "Shared2FCBBoxHead"


def test_an_roi_head_is_refused_before_training(cascade):
    with pytest.raises(ValueError, match=r"'roi_head' of CascadeRCNN holds its box head\(s\); name the box head, "
                                         r"e.g. head='roi_head.bbox_head.0'"):
        resolve_head(cascade, "roi_head")
    assert resolve_head(cascade, None)[0] == "rpn_head"


def test_a_cascade_stages_logs_are_window_means_and_its_stage_weight_is_named(cascade):
    """A stage head logs s<i>.<name>_cls_weight etc.: averaged over the log window like s<i>.loss_* (they were this
    iteration's values), and the stage loss weight mmdet applies after ALWA is named."""
    import re
    from types import SimpleNamespace

    from alwa.mmdet.hook import ALWAHook

    hook = ALWAHook(head="roi_head.bbox_head.1", name="alwa_s1")
    runner = SimpleNamespace(log_processor=SimpleNamespace(mean_pattern=re.compile(r".*(loss|time|data_time|grad_norm).*")))
    hook._smooth_like_losses(runner)
    pat = runner.log_processor.mean_pattern
    assert all(pat.search(k) for k in ("s1.alwa_s1_cls_weight", "s1.alwa_s1_reg_raw", "alwa_s1_cls_raw", "s1.loss_cls"))
    assert not pat.search("s1.acc")
    hook.head_path = "roi_head.bbox_head.1"
    assert hook._stage_loss_weight(cascade) == 0.5
    hook.head_path = "rpn_head"
    assert hook._stage_loss_weight(cascade) is None
