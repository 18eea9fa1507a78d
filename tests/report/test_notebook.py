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


def test_a_benchmark_is_measured_once_by_the_build_and_then_only_read(tmp_path, capsys):
    from alwa.book.prepare import _bench
    from alwa.report import notebook as nbh
    from alwa.runs.profile import load_profile

    calls = []

    def measure():
        calls.append(1)
        return {"ratio": 1.0 + 0.001 * len(calls)}

    p = load_profile("smoke", results_root=str(tmp_path))
    assert nbh.stored_bench(p, "train_step", "alwa bench train") is None  # a notebook never measures
    assert "no train_step benchmark recorded" in capsys.readouterr().out
    _bench(p, "train_step", measure, print)
    first = nbh.stored_bench(p, "train_step", "alwa bench train")
    assert first["ratio"] == 1.001 and first["profile"] == "smoke" and "time_utc" in first["provenance"]
    _bench(p, "train_step", measure, print)
    assert nbh.stored_bench(p, "train_step", "alwa bench train") == first and calls == [1]  # two builds, one measurement
    assert "alwa bench train --json" in capsys.readouterr().out


def test_tables_have_no_index_column_and_round_floats():
    from alwa.report import notebook as nbh

    html = nbh.table([{"lr": 0.04, "mAP": 72.6123456, "n": 3, "x": None}], digits=2).to_html()
    assert ">0.04<" in html and ">72.61<" in html and "72.612" not in html and ">-<" in html
    assert "row_heading" not in html  # the index is hidden
    assert nbh.table([{"a": 1.5}]).to_html() == nbh.table([{"a": 1.5}]).to_html()  # no random ids: a render is stable


def test_glued_text_displays_without_quotes():
    from IPython.core.formatters import PlainTextFormatter

    from alwa.report.notebook import Text

    fmt = PlainTextFormatter()
    assert fmt(Text("30.05 [29.47, 30.62]")) == "30.05 [29.47, 30.62]" and fmt("plain") == "'plain'"


def test_a_detector_every_comparison_shares_is_said_once_in_the_caption_not_in_a_column():
    from alwa.analysis.records import Comparison, PairedDiff
    from alwa.report import notebook as nbh

    d = PairedDiff(10, tuple(range(10)), -0.0035, -0.0075, 0.0006, 0.08)
    rows = [Comparison("ALWA-1", "control", d, regime="1500 it, lr 0.04", detector="retinanet", loss=loss)
            for loss in ("l1", "smoothl1")]
    t = nbh.comparison_table(rows)
    assert "detector" not in t.df.columns and list(t.df["diff (pts) [95 % CI]"]) == ["-0.35 [-0.75, +0.06]"] * 2
    assert "<caption>detector: retinanet</caption>" in t.to_html() and repr(t).startswith("detector: retinanet\n")
    mixed = rows[:1] + [Comparison("ALWA-1", "1:1", d, regime="paper", detector="faster-rcnn", loss="l1")]
    t = nbh.comparison_table(mixed)
    assert list(t.df["detector"]) == ["retinanet", "faster-rcnn"] and "<caption" not in t.to_html()
