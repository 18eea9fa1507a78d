"""alwa.report.pages: the speed page renders the stored benchmark record (and says when there is none)."""
import json

import yaml

from alwa.report.pages import speed_page


def test_speed_page_renders_the_record_and_names_a_path_that_does_not_run(tmp_path):
    rec = {"provenance": {"time_utc": "2026-12-04T00:00:00Z", "cpu_count": 2, "torch": "2.14.1"},
           "profiles": [{"detector": "retinanet", "iters": 120, "seconds_per_iter": 0.2, "build_s": 0.5, "test_s": 3.0,
                         "parts_s_per_iter": {"backward": 0.1, "  of it: x": 0.01}}],
           "detectors": [{"detector": "faster-rcnn", "paths": {
               "v1": {"median_step_s": 0.3, "speedup": 1.0, "speedup_ci95": [1.0, 1.0], "keeps_numbers": True, "losses": [1, 2, 3]},
               "bf16": {"error": "RuntimeError: expected scalar type Float | BFloat16"}}}],
           "layout": {"2x1_steps_per_s": 10.0, "1x2_steps_per_s": 8.0}, "runs_per_hour": 57.3}
    (tmp_path / "cpu" / "bench").mkdir(parents=True)
    (tmp_path / "cpu" / "bench" / "speed.json").write_text(json.dumps(rec))
    page = speed_page("cpu", str(tmp_path))
    assert "| backward | 100.0 | 50 % |" in page and "&nbsp;&nbsp;&nbsp;of it: x" in page
    assert "| Faster R-CNN | bf16 | - | does not run | RuntimeError: expected scalar type Float / BFloat16 |" in page
    assert "| Faster R-CNN | v1 | 300.0 | 1.000 [1.000, 1.000] | kept |" in page and "at most\n57 RetinaNet runs" in page
    assert "over 3 SGD steps" in page


def test_speed_page_without_a_record_says_how_to_make_one(tmp_path):
    assert "**No record yet**: run `alwa bench speed" in speed_page("smoke", str(tmp_path))


def test_the_claims_page_says_when_records_are_bad(tmp_path):
    from alwa.report.pages import claims_page

    runs = tmp_path / "cpu" / "runs"
    runs.mkdir(parents=True)
    assert "bad or unreadable" not in claims_page("cpu", str(tmp_path))
    (runs / "retinanet_r18w16_mini_l1_alwa2__s0.json").write_text(json.dumps({"name": "retinanet_r18w16_mini_l1_alwa2", "seed": 0,
                                                                               "mAP": float("nan")}))
    page = claims_page("cpu", str(tmp_path))
    assert "1 result file(s) are bad or unreadable and are left out of every claim" in page and "not a finite number" in page


def test_key_list_folds_a_detr_heads_auxiliary_layers():
    from alwa.report.pages import key_list

    keys = ["loss_cls", *(f"d{i}.loss_cls" for i in range(5)), "enc_loss_cls"]
    assert key_list(keys) == "`loss_cls`, `d0-d4.loss_cls`, `enc_loss_cls`"
    assert key_list(["d0.loss_iou", "d2.loss_iou"]) == "`d0,d2.loss_iou`"
    assert key_list([]) == "-"


def test_the_mmdet_page_tables_the_stored_detector_checks(tmp_path):
    from alwa.core.checks import DetectorCheck
    from alwa.report.pages import mmdet_page

    rows = [DetectorCheck("GFL", "gfl/gfl_r50_fpn_1x_coco.py", "bbox_head", "GFLHead", ("loss_cls",),
                          ("loss_bbox", "loss_dfl"), (), 2, 0.0, 0.0),
            DetectorCheck("FCOS", "fcos/x.py", "bbox_head", "FCOSHead", ("loss_cls",), ("loss_bbox",),
                          ("loss_centerness",), 2, 0.0, 0.25),
            DetectorCheck("SSD300", "ssd/ssd300_coco.py", error="RuntimeError: a | b")]
    (tmp_path / "results" / "mmdet").mkdir(parents=True)
    (tmp_path / "results" / "mmdet" / "detectors.json").write_text(json.dumps(
        {"detectors": [r.as_dict() for r in rows], "provenance": {"time_utc": "T", "cpu_count": 2, "mmdet": "3.3.0"}}))
    page = mmdet_page(str(tmp_path / "results"))
    assert "| GFL | `bbox_head` (GFLHead) | `loss_cls` | `loss_bbox`, `loss_dfl` | - | exact |" in page
    assert "| FCOS | `bbox_head` (FCOSHead) | `loss_cls` | `loss_bbox` | `loss_centerness` | **differs** (weight 1: 0; fixed weights: 0.25) |" in page
    assert "| SSD300 | `(default)` (?) | - | - | - | **fails**: RuntimeError: a / b |" in page
    assert "as mmdet 3.3.0 ships it" in page and "No record yet" not in page
    assert "**No record yet**: run `alwa bench detectors --json" in mmdet_page(str(tmp_path / "none"), source=tmp_path / "x")
    assert "| GFL |" in mmdet_page(str(tmp_path / "none"), source=tmp_path)  # the checkout's record: no profile in it


def test_reader_pages_carry_no_words_of_the_projects_process():
    from alwa.report.pages import tuning_page

    page = tuning_page(".")
    assert "calibration round 2" in page
    for word in ("session", "issue"):
        assert word not in page.lower(), word
    import glob

    sources = glob.glob("alwa/report/templates/*.j2") + glob.glob("book/*.md") + glob.glob("notebooks/0*.py")
    for source in sources:
        text = open(source).read().lower()
        assert "issue" not in text and "session" not in text, source


def test_a_setting_few_tuning_runs_changed_is_said_in_one_other_column(tmp_path):
    from alwa.report.pages import tuning_page

    (tmp_path / "book" / "data").mkdir(parents=True)
    runs = [{"mAP": 0.12, "name": "retinanet_r18w16_mini_l1_base", "lr": 0.02, "batch": 4, "warmup": 200},
            {"mAP": 0.13, "name": "retinanet_r18w16_mini_l1_base", "lr": 0.01},
            {"mAP": 0.11, "name": "retinanet_r18w16_mini_l1_base", "lr": 0.04, "note": "a | b"}]
    (tmp_path / "book" / "data" / "tuning_runs.yaml").write_text(yaml.safe_dump({"session_1": runs}))
    rows = [line for line in tuning_page(tmp_path).splitlines() if line.startswith("|")]
    assert rows[0] == "| mAP | name | lr | other |"  # batch, warmup and note are given in one row of three each
    assert rows[2] == "| 0.12 | retinanet_<wbr>r18w16_<wbr>mini_<wbr>l1_<wbr>base | 0.02 | batch: 4; warmup: 200 |"
    assert rows[3].endswith("| 0.01 |  |") and rows[4].endswith("| note: a / b |")  # a cell's '|' kept out of the table
