"""alwa.report.pages: the speed page renders the stored benchmark record (and says when there is none)."""
import json

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
