"""alwa.report.notebook: a notebook's first cell names bad result files (left out of its tables), never in silence."""
import json


def test_setup_names_bad_records_above_every_table(tmp_path, monkeypatch):
    import IPython.display

    from alwa.report import notebook as nbh

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(getattr(obj, "data", obj)))
    runs = tmp_path / "smoke" / "runs"
    runs.mkdir(parents=True)
    (runs / "retinanet_r18w16_mini_l1_base__s0.json").write_text(json.dumps({"name": "retinanet_r18w16_mini_l1_base", "seed": 0,
                                                                              "mAP": 61.2}))
    nbh.setup("smoke", results_root=str(tmp_path))
    assert len(shown) == 2 and "1 result file(s) are bad" in shown[1] and "looks like a percentage" in shown[1]
    shown.clear()
    (runs / "retinanet_r18w16_mini_l1_base__s0.json").unlink()
    nbh.setup("smoke", results_root=str(tmp_path))
    assert len(shown) == 1  # nothing bad: the header alone
