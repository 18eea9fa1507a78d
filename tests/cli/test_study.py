"""``alwa study``: its answer command prints what the analysis computes; a profile without a plan is refused by name."""

import pytest

from alwa.analysis import lrstudy
from alwa.cli import study as cli_study
from alwa.runs import study
from alwa.runs.profile import load_profile, results_dir
from alwa.runs.store import load_results


def test_a_profile_without_a_study_is_refused_with_a_message(capsys):
    for cmd in ("status", "answer"):
        with pytest.raises(SystemExit) as e:
            cli_study.main([cmd, "--profile", "gpu"])
        assert "no learning-rate study is planned for profile 'gpu'" in str(e.value) and "cpu, smoke" in str(e.value)


def test_answer_prints_every_comparison_and_the_answer_of_the_committed_runs(capsys):
    cli_study.main(["answer", "--profile", "cpu", "--results", "results"])
    out = capsys.readouterr().out.splitlines()
    p = load_profile("cpu", None, "results")
    records = load_results(results_dir("results", "cpu", "runs"))
    st, specs = study.study_specs(p, records)
    rows = lrstudy.alwa_vs_control(records, p, study.plan_for("cpu"), st)
    assert out[0].startswith(f"stage: {st.stage}; ") and f"of {len(specs)} runs done" in out[0]
    assert len(out) == len(rows) + 2 and out[-1] == lrstudy.answer(rows)
    assert all(lrstudy.fmt_comparison(r) in line and r.label in line and r.loss in line for line, r in zip(out[1:-1], rows))
    assert any("seed(s) dropped (initial states differ)" in line for line in out)  # the 49 runs of 2026-12-02


def test_answer_on_an_empty_results_root_says_there_is_no_answer_yet(tmp_path, capsys):
    cli_study.main(["answer", "--profile", "cpu", "--results", str(tmp_path)])
    out = capsys.readouterr().out.splitlines()
    assert "(in progress: every number below is interim)" in out[0] and out[-1].startswith("No ALWA run has an lr-control run")


def test_the_settling_answer_ends_with_its_headline_over_the_committed_runs(capsys):
    from alwa.analysis import settled
    from alwa.runs import settle

    cli_study.main(["answer", "--study", "settle", "--profile", "cpu", "--results", "results"])
    out = capsys.readouterr().out.splitlines()
    p = load_profile("cpu", None, "results")
    records = load_results(results_dir("results", "cpu", "settle"))
    st, _ = settle.decide(p, settle.settle_plan_for("cpu"), records)
    rows = settled.comparisons(records, p, st)
    assert out[-1] == settled.headline(records, p, st) and out[-1].startswith("No: ")
    assert out[-1 - len(rows):-1] == ["  " + settled.fmt_row(r) for r in rows]
