"""The book's publishing workflow (.github/workflows/book.yml): it passes actionlint, and its build step
is a command this suite runs (from the committed results, no training)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
BUILD = "make book MAX_RUNS=0"


def actionlint() -> str:
    exe = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert exe, "actionlint is installed by `make setup` (requirements/main.txt)"
    return exe


def test_the_workflow_passes_actionlint():
    r = subprocess.run([actionlint(), str(WORKFLOW)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_actionlint_is_not_vacuous(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest\n    container", "runs-on: ubuntu-latest\n    contianer", 1))
    assert subprocess.run([actionlint(), str(bad)], capture_output=True, text=True).returncode != 0


def build_step() -> dict:
    wf = yaml.safe_load(WORKFLOW.read_text())
    (step,) = [s for s in wf["jobs"]["build"]["steps"] if s.get("name") == "Build the book"]
    return step


def test_the_build_step_builds_from_the_committed_results_and_the_pages_job_deploys_it():
    wf = yaml.safe_load(WORKFLOW.read_text())
    assert build_step()["run"] == BUILD
    upload = [s for s in wf["jobs"]["build"]["steps"] if "upload-pages-artifact" in s.get("uses", "")]
    assert upload and upload[0]["with"]["path"] == "_build/html"
    assert any("deploy-pages" in s.get("uses", "") for s in wf["jobs"]["deploy"]["steps"])


@pytest.mark.slow
def test_the_build_step_runs_here(tmp_path):
    """The workflow's command, verbatim, staged outside the checkout (STAGE/OUT), trains nothing."""
    env = dict(os.environ, STAGE=str(tmp_path / "stage"), OUT=str(tmp_path / "out"))
    runs = ROOT / "results" / "cpu" / "runs"
    before = sorted(p.name for p in runs.glob("*.json"))
    r = subprocess.run(["bash", "-c", build_step()["run"]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    html = tmp_path / "out" / "_build" / "html"
    assert (html / "index.html").exists() and (html / "book" / "generated" / "claims.html").exists()
    assert set(before) <= {p.name for p in runs.glob("*.json")}  # nothing lost (a running study may add runs)
    import importlib.util

    spec = importlib.util.spec_from_file_location("_book_checks", ROOT / "tests" / "book" / "test_book.py")
    checks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checks)
    browse, layout_problems, reader_problems = checks.browse, checks.layout_problems, checks.reader_problems
    data = browse(html, tmp_path / "chromium")  # the published book, as a reader at 1280 px sees it
    assert reader_problems(data) == [] and layout_problems(data, html) == []
