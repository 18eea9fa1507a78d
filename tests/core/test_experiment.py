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


# ------------------------------------------------------------------ the window C is typed: None = the setting's
def test_a_name_without_c_has_no_window_of_its_own_and_an_explicit_c100_is_named():
    """``interval`` None means "the setting's C": a name without _C; C = 100 given explicitly is ``_C100`` (before
    the fix, interval=100 was the unnamed default, so a C = 100 row ran with whatever C the setting had)."""
    plain = Experiment.parse("faster-rcnn_r18w16_mini_l1_alwa2")
    assert plain.interval is None and plain.window() == 100 and plain.window(4) == 4
    c100 = Experiment.of("faster-rcnn", "r18w16", "mini", "l1", "alwa2", interval=100)
    assert c100.name == "faster-rcnn_r18w16_mini_l1_alwa2_C100" and c100.window(4) == 100
    assert Experiment.parse(c100.name) == c100 and c100 != plain
    assert Experiment.parse("faster-rcnn_r18w16_mini_l1_alwa2_C100").baseline().interval is None
    with pytest.raises(ValueError, match="window C"):
        Experiment("retinanet", "r50", "voc", "l1", "base", interval=20)
    with pytest.raises(ValueError, match="window C"):
        Experiment("retinanet", "r50", "voc", "l1", "alwa1", interval=0)


def test_experiments_sort_by_name():
    names = ["retinanet_r18w16_mini_l1_base", "faster-rcnn_r18w16_mini_l1_alwa2_C20", "retinanet_r18w16_mini_ciou_alwa1"]
    assert [e.name for e in sorted(map(Experiment.parse, names))] == sorted(names)


# ------------------------------------------------------------------ RunSpec and RunRecord
def test_a_run_spec_writes_the_mapping_every_record_holds_and_reads_it_back():
    from alwa.core.experiment import RunSpec

    e = Experiment.parse("retinanet_r18w16_mini_l1_alwa2_lr0.04_it1500")
    s = RunSpec(e, 3, {"work_root": "work_dirs/cpu", "setting": {"iters": 600}})
    d = s.to_dict()
    assert d == {"name": e.name, "seed": 3, "work_root": "work_dirs/cpu", "setting": {"iters": 600}}
    assert list(d)[:2] == ["name", "seed"]
    assert RunSpec.from_dict(d) == s and RunSpec.of(d) == s and RunSpec.of(s) is s
    assert s.key == f"{e.name}__s3" and s.get("setting") == {"iters": 600} and s.get("data_dir") is None
    with pytest.raises(ValueError, match="not an experiment name"):
        RunSpec.from_dict({"name": "toy", "seed": 0})
    with pytest.raises(ValueError, match="may not set"):
        RunSpec(e, 0, {"name": "other"})
    with pytest.raises(ValueError, match="whole number"):
        RunSpec(e, 1.5)
    with pytest.raises(TypeError, match="must be an Experiment"):
        RunSpec(e.name, 0)


def test_a_run_record_carries_its_experiment_and_spec_and_reads_every_stored_field():
    from alwa.core.experiment import RunRecord, RunSpec

    e = Experiment.parse("faster-rcnn_r18w16_mini_ciou_alwa2_C20")
    raw = {"name": e.name, "seed": 2, "mAP": 0.61, "windows": [{}], "spec": RunSpec(e, 2, {"work_root": "w"}).to_dict()}
    r = RunRecord(raw)
    assert r.experiment == e and r.seed == 2 and r.mAP == 0.61 and r.key == f"{e.name}__s2"
    assert r.spec == RunSpec(e, 2, {"work_root": "w"})
    assert r["windows"] == [{}] and r.get("missing", 7) == 7 and "mAP" in r and dict(r) == raw
    assert r.to_dict() == raw and r.to_dict() is not raw and RunRecord.of(r) is r
    old = RunRecord({"name": e.name, "seed": 0, "mAP": 0.5})  # a record older than specs
    assert old.spec is None and old.experiment == e
    toy = RunRecord({"name": "toy", "seed": 0, "mAP": 0.5})  # the runner's own tests: loads, no experiment
    with pytest.raises(ValueError, match="not an experiment name"):
        toy.experiment
    with pytest.raises(ValueError, match="needs a 'name'"):
        RunRecord({"seed": 0})
