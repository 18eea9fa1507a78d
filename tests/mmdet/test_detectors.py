"""alwa.mmdet.detectors: ALWAHook on MMDetection's own detector configs (the matrix of issue #31).

The slow tests build every stock config at tiny scale and hold the hook to two properties: with the weights at 1
every loss equals the run without the hook, bit for bit; with fixed weights exactly the weighed keys scale. They also
check that the stored record the book renders (``results/mmdet/detectors.json``) is what the code gives today.
"""
import pytest

from alwa.core.checks import DETECTOR_RECORD, load_detector_checks
from alwa.mmdet.detectors import STOCK_DETECTORS, check_detector, check_detectors, detector_key, find_detectors
from alwa.mmdet.hook import ALWAHook


@pytest.mark.parametrize("path,key,reported", [
    ("roi_head.bbox_head.0", "loss_cls", "s0.loss_cls"), ("roi_head.bbox_head.2", "loss_bbox", "s2.loss_bbox"),
    ("roi_head.bbox_head", "loss_cls", "loss_cls"), ("bbox_head", "d3.loss_iou", "d3.loss_iou"),
    ("rpn_head", "loss_rpn_cls", "loss_rpn_cls"),
])
def test_detector_key_names_a_cascade_stage_loss_as_the_detector_reports_it(path, key, reported):
    assert detector_key(path, key) == reported


def test_find_detectors_is_case_blind_and_names_an_unknown_detector():
    assert [d.name for d in find_detectors(["gfl", "DETR"])] == ["GFL", "DETR"]
    with pytest.raises(ValueError, match=r"unknown detector\(s\) \['Yolo'\]; known: \['RetinaNet'"):
        find_detectors(["Yolo"])


def test_the_matrix_covers_the_detectors_the_issue_names():
    names = {d.name for d in STOCK_DETECTORS}
    assert {"RetinaNet", "FCOS", "ATSS", "GFL", "Faster R-CNN", "Cascade R-CNN", "Mask R-CNN", "YOLOX-tiny", "SSD300",
            "DETR"} <= names and names & {"DINO", "Deformable DETR"}


@pytest.mark.slow
def test_the_check_catches_a_loss_scaled_that_the_hook_says_it_left_alone(monkeypatch):
    # the hook reports no classification key while it still scales loss_cls by 0.5: the check must not pass
    real = ALWAHook.resolved_keys
    monkeypatch.setattr(ALWAHook, "resolved_keys",
                        property(lambda self: None if real.fget(self) is None else ((), *real.fget(self)[1:])))
    row = check_detector(find_detectors(["RetinaNet"])[0], iterations=1)
    assert row.error is None and row.identity_max_abs_diff == 0.0
    assert row.scaled_max_abs_err == pytest.approx(0.5 * row.losses["loss_cls"]) and not row.ok


@pytest.fixture(scope="module")
def matrix():
    return {row.detector: row for row in check_detectors(STOCK_DETECTORS)}


@pytest.mark.slow
@pytest.mark.parametrize("name", [d.name for d in STOCK_DETECTORS])
def test_a_stock_detector_is_unchanged_at_weight_one_and_scaled_exactly_where_weighed(matrix, name):
    row = matrix[name]
    assert row.error is None, row.error
    assert row.identity_max_abs_diff == 0.0, f"{name}: weight 1 changed a loss by {row.identity_max_abs_diff}"
    assert row.scaled_max_abs_err == 0.0, f"{name}: fixed weights are off by {row.scaled_max_abs_err}"
    assert row.cls_keys and row.reg_keys and row.ok


@pytest.mark.slow
def test_the_default_keys_of_each_head_family(matrix):
    m = matrix
    assert (m["RetinaNet"].cls_keys, m["RetinaNet"].reg_keys, m["RetinaNet"].untouched) == (("loss_cls",), ("loss_bbox",), ())
    assert m["GFL"].reg_keys == ("loss_bbox", "loss_dfl")
    assert m["FCOS"].untouched == ("loss_centerness",) and m["ATSS"].untouched == ("loss_centerness",)
    assert "loss_obj" in m["YOLOX-tiny"].untouched and "loss_obj" not in m["YOLOX-tiny"].reg_keys
    assert m["Faster R-CNN"].cls_keys == ("loss_rpn_cls",) and m["Faster R-CNN"].head == "rpn_head"
    assert m["Faster R-CNN (RoI head)"].head_type == "Shared2FCBBoxHead"
    assert m["Cascade R-CNN (stage 1 of 3)"].head == "roi_head.bbox_head.0"
    detr = m["DETR"]
    assert set(detr.cls_keys) == {"loss_cls"} | {f"d{i}.loss_cls" for i in range(5)}
    assert set(detr.reg_keys) == {f"{p}{k}" for p in ("", *(f"d{i}." for i in range(5))) for k in ("loss_bbox", "loss_iou")}
    dino = next(m[n] for n in ("DINO", "Deformable DETR") if n in m)
    assert "enc_loss_cls" in dino.cls_keys and "enc_loss_iou" in dino.reg_keys and not dino.untouched


@pytest.mark.slow
def test_the_stored_record_the_book_renders_is_what_the_code_gives_today(matrix):
    stored = load_detector_checks(DETECTOR_RECORD)
    assert stored is not None, f"no {DETECTOR_RECORD}: run `alwa bench detectors --json {DETECTOR_RECORD}`"
    fields = ("config", "head", "head_type", "cls_keys", "reg_keys", "untouched", "ok", "error")
    now = {n: tuple(getattr(r, f) for f in fields) for n, r in matrix.items()}
    assert {r.detector: tuple(getattr(r, f) for f in fields) for r in stored} == now
