"""alwa.core.experiment: the name grammar (round trip, canonical form, errors, the baseline of a name)."""

import pytest

from alwa.core.experiment import Experiment


NAMES = ["retinanet_r18w16_mini_l1_base", "retinanet_r50_voc_ciou_w0.50-0.75", "faster-rcnn_r50_voc_l1_alwa2_C200",
         "faster-rcnn_r18w16_mini_l1_alwa2_init0.5", "retinanet_r18w16_mini_l1_alwa2_detrend_lr0.04_it1200",
         "retinanet_r18w16_mini_smoothl1_w0.50-0.50_lr0.01_noclip", "retinanet_r18w16_mini_l1_base_it2400"]


@pytest.mark.parametrize("name", NAMES)
def test_names_round_trip(name):
    assert Experiment.parse(name).name == name


def test_suffixes_parse_to_fields():
    e = Experiment.parse("retinanet_r18w16_mini_l1_alwa2_detrend_lr0.04_it1200_noclip")
    assert (e.weighting, e.detrend, e.lr, e.iters, e.clip) == ("alwa2", True, 0.04, 1200, False)
    assert Experiment.parse("retinanet_r18w16_mini_l1_base") == Experiment("retinanet", "r18w16", "mini", "l1", "base")


def test_baseline_keeps_lr_schedule_and_clipping():
    e = Experiment.parse("faster-rcnn_r18w16_mini_l1_alwa2_C20_init0.5_lr0.08_it800")
    assert e.baseline().name == "faster-rcnn_r18w16_mini_l1_base_lr0.08_it800"
    assert Experiment.parse("retinanet_r18w16_mini_l1_w0.25-0.25_noclip").baseline().name == "retinanet_r18w16_mini_l1_base_noclip"


@pytest.mark.parametrize("bad, match", [("yolo_r50_voc_l1_base", "not an experiment name"),
                                        ("retinanet_r50_voc_l1_base_C20", "ALWA runs only"),
                                        ("retinanet_r50_voc_l1_w0.5-0.5", "canonical"),
                                        ("retinanet_r50_voc_l1_base_lr0.040", "canonical"),
                                        ("retinanet_r50_voc_l1_base_it1200_lr0.04", "not an experiment name"),
                                        ("retinanet_r50_voc_l1_w0.50-0.50_detrend", "ALWA runs only")])
def test_bad_names_are_refused_naming_the_problem(bad, match):
    with pytest.raises(ValueError, match=match):
        Experiment.parse(bad)


def test_fields_are_validated():
    with pytest.raises(ValueError, match="reg_loss"):
        Experiment("retinanet", "r50", "voc", "l2", "base")
    with pytest.raises(ValueError, match="lr must be > 0"):
        Experiment("retinanet", "r50", "voc", "l1", "base", lr=0.0)


def test_the_run_key_is_the_name_and_the_seed():
    from alwa.core.experiment import run_key
    from alwa.runs.store import spec_key

    assert run_key("retinanet_r18w16_mini_l1_base", 3) == "retinanet_r18w16_mini_l1_base__s3"
    assert spec_key({"name": "retinanet_r18w16_mini_l1_base", "seed": 3}) == run_key("retinanet_r18w16_mini_l1_base", 3)
    assert spec_key({"name": "x"}) == "x__s0"  # no seed: seed 0
