"""alwa.core.checks: the record of a detector check, written and read back."""
import json

import pytest

from alwa.core.checks import DetectorCheck, load_detector_checks


def check(**kw):
    base = dict(detector="GFL", config="gfl/gfl_r50_fpn_1x_coco.py", head="bbox_head", head_type="GFLHead",
                cls_keys=("loss_cls",), reg_keys=("loss_bbox", "loss_dfl"), iterations=2,
                identity_max_abs_diff=0.0, scaled_max_abs_err=0.0, losses={"loss_cls": 1.5})
    return DetectorCheck(**{**base, **kw})


def test_ok_needs_no_error_and_both_differences_exactly_zero():
    assert check().ok
    assert not check(identity_max_abs_diff=1e-9).ok
    assert not check(scaled_max_abs_err=2.0).ok
    assert not check(error="ValueError: x", identity_max_abs_diff=None, scaled_max_abs_err=None).ok


def test_a_check_survives_its_json_file(tmp_path):
    rows = [check(), check(detector="SSD300", error="RuntimeError: boom", scaled_max_abs_err=None)]
    path = tmp_path / "detectors.json"
    path.write_text(json.dumps({"detectors": [r.as_dict() for r in rows], "provenance": {}}))
    assert load_detector_checks(path) == rows
    assert json.loads(path.read_text())["detectors"][1]["ok"] is False


def test_no_record_is_none_and_an_unknown_field_is_refused_by_name(tmp_path):
    assert load_detector_checks(tmp_path / "missing.json") is None
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['colour'\]"):
        DetectorCheck.from_dict({**check().as_dict(), "colour": "red"})
