"""Every notebook runs at the smoke profile (papermill) and prepares with params/gpu.yaml."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_notebook_is_clean_and_parametrized(nb):
    book = nbformat.read(nb, as_version=4)
    tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert all(not c.get("outputs") for c in book.cells if c.cell_type == "code"), "source notebooks carry no outputs"
    # derived values live after the parameters cell: it holds plain assignments of literals only
    for line in tagged[0].source.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            assert name.strip().isidentifier(), line
            __import__("ast").literal_eval(value.strip())


def test_notebooks_are_generated_from_tools_notebooks():
    """The .ipynb files equal what tools/nbtools.py writes (no hand edits drifting)."""
    sys.path.insert(0, str(ROOT / "tools"))
    import importlib.util

    import nbtools

    for spec in sorted((ROOT / "tools" / "notebooks").glob("[0-9]*.py")):
        s = importlib.util.spec_from_file_location(spec.stem, spec)
        mod = importlib.util.module_from_spec(s)
        s.loader.exec_module(mod)
        want = nbtools.build(mod.CELLS)
        got = nbformat.read(ROOT / "notebooks" / f"{spec.stem}.ipynb", as_version=4)
        assert [c.source for c in got.cells] == [c.source for c in want.cells], spec.stem


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_prepares_with_gpu_params(nb, tmp_path):
    params = yaml.safe_load((ROOT / "notebooks/params/gpu.yaml").read_text())
    out = tmp_path / nb.name
    pm.execute_notebook(str(nb), str(out), parameters=params, prepare_only=True, kernel_name="python3")
    injected = [c for c in nbformat.read(out, as_version=4).cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "profile = \"gpu\"" in injected[0].source


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_at_smoke_profile(nb, tmp_path, smoke_results_root):
    params = yaml.safe_load((ROOT / "notebooks/params/smoke.yaml").read_text())
    params["results_root"] = str(smoke_results_root)
    out = tmp_path / nb.name
    pm.execute_notebook(str(nb), str(out), parameters=params, cwd=str(ROOT), kernel_name="python3", progress_bar=False)
    executed = nbformat.read(out, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    produced = list((smoke_results_root / "smoke").rglob("*.json"))
    assert produced, "the notebook wrote no result file"
    for p in produced:
        data = json.loads(p.read_text())
        assert data.get("profile", "smoke") == "smoke"


def _parameter_names(nb: Path) -> set:
    cell = next(c for c in nbformat.read(nb, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    return {line.partition("=")[0].strip() for line in cell.source.splitlines() if "=" in line and not line.lstrip().startswith("#")}


def test_training_notebooks_pass_every_key_the_package_reads():
    """What the spec builders, the claims and the runner read from ``p`` is in ``PROFILE_KEYS``, and every
    training notebook declares all of it (a params key the notebook filters out never reaches the specs:
    the Faster R-CNN runs' ``faster_setting`` once did not, and their results looked missing)."""
    import re

    from alwa import experiments as ex

    read = set()
    for mod in ("experiments", "claims", "notebook"):
        src = (ROOT / "alwa" / f"{mod}.py").read_text()
        read |= set(re.findall(r'\bp\.get\("(\w+)"', src)) | set(re.findall(r'\bp\["(\w+)"\]', src))
    assert {"faster_setting", "abl_C", "setting"} <= read  # the scan sees what it must
    assert read <= ex.PROFILE_KEYS, sorted(read - ex.PROFILE_KEYS)
    training = [nb for nb in NOTEBOOKS if "ex.PROFILE_KEYS" in nb.read_text()]
    assert len(training) == 3, [nb.stem for nb in training]
    for nb in training:
        missing = ex.PROFILE_KEYS - _parameter_names(nb)
        assert not missing, (nb.stem, sorted(missing))


@pytest.mark.parametrize("profile", ["smoke", "cpu", "gpu"])
def test_every_params_key_is_a_notebook_parameter(profile):
    """A key of ``params/{profile}.yaml`` that no notebook declares would be injected and then ignored."""
    declared = set().union(*(_parameter_names(nb) for nb in NOTEBOOKS))
    keys = set(yaml.safe_load((ROOT / "notebooks" / "params" / f"{profile}.yaml").read_text()))
    assert keys <= declared, sorted(keys - declared)
