"""Every notebook runs at the smoke profile (papermill) and prepares with params/gpu.yaml."""

import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parents[2]
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


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_is_paired_with_its_jupytext_source(nb):
    """notebooks/NN_*.py (jupytext percent) is the source; the .ipynb holds the same cells, kinds and tags
    (``jupytext --sync notebooks/*.py`` after an edit). A lost ``parameters`` tag on either side fails here."""
    import jupytext

    src = nb.with_suffix(".py")
    assert src.exists(), f"{src.name} missing: the .ipynb has no jupytext source"
    text = jupytext.read(src)
    book = nbformat.read(nb, as_version=4)
    assert book.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"

    def cells(n):
        return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in n.cells]

    assert cells(text) == cells(book)
    for n in (text, book):
        assert sum("parameters" in c.metadata.get("tags", []) for c in n.cells) == 1


def test_every_notebook_source_has_its_ipynb():
    sources = sorted((ROOT / "notebooks").glob("[0-9]*.py"))
    assert [p.stem for p in sources] == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_prepares_with_gpu_params(nb, tmp_path):
    params = {"profile": "gpu"}
    out = tmp_path / nb.name
    pm.execute_notebook(str(nb), str(out), parameters=params, prepare_only=True, kernel_name="python3")
    injected = [c for c in nbformat.read(out, as_version=4).cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "profile = \"gpu\"" in injected[0].source


CLAIM_FILE = {"box_shifting.json": {"C1"}, "grid.json": {"C2", "C3", "C4", "C5"}, "alwa.json": {"C6", "C7", "C10", "C11"},
              "ablation.json": {"C9"}, "regimes.json": {"C3", "C6", "C7", "C9", "C11"}}


def _files(root):
    """Every file under a results root but the figures a notebook draws (PNG), with its modification time and size."""
    return {f: (f.stat().st_mtime_ns, f.stat().st_size) for f in root.rglob("*") if f.is_file() and f.suffix != ".png"}


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_at_smoke_profile_and_writes_no_result(nb, tmp_path, smoke_results_root):
    """A notebook reads the records and the claim store the build prepared (alwa.book.prepare) and writes nothing:
    no run, no claim, no table, no benchmark (its figures aside)."""
    params = {"profile": "smoke", "results_root": str(smoke_results_root)}
    out = tmp_path / nb.name
    before = _files(smoke_results_root)
    pm.execute_notebook(str(nb), str(out), parameters=params, cwd=str(ROOT), kernel_name="python3", progress_bar=False)
    assert _files(smoke_results_root) == before, f"{nb.stem} wrote or changed a result"
    executed = nbformat.read(out, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    for name, cids in CLAIM_FILE.items():  # the store the build wrote, for this profile, naming every claim
        data = json.loads((smoke_results_root / "smoke" / "claims" / name).read_text())
        assert data["profile"] == "smoke" and set(data["by_regime"] if name == "regimes.json" else data["claims"]) >= cids
    runs = [json.loads(f.read_text()) for f in (smoke_results_root / "smoke" / "runs").glob("*.json")]
    assert all(r["spec"]["work_root"].endswith("smoke") for r in runs)  # no run of another profile's folder


def test_every_notebook_has_the_few_parameters():
    from alwa.report.notebook import NOTEBOOK_PARAMETERS

    for nb in NOTEBOOKS:
        assert list(pm.inspect_notebook(str(nb))) == list(NOTEBOOK_PARAMETERS), nb.stem


def _profile_reads(tree) -> set[str]:
    """Attributes read from ``p`` where ``p`` is a :class:`Profile`: inside functions whose ``p`` is annotated
    ``Profile``, and anywhere in a notebook (``p = nb.params``)."""
    import ast

    def reads(node):
        return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "p"}

    if tree is None:
        return set()
    out = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(a.arg == "p" and a.annotation is not None and ast.unparse(a.annotation) == "Profile" for a in fn.args.args):
                out |= reads(fn)
    return out


def test_every_profile_attribute_the_package_reads_exists():
    """What the spec builders, the claims, the study and the notebooks read from a profile is a field (or a method)
    of alwa.runs.profile.Profile, checked when the profile is loaded; a typo in a rarely run branch fails here."""
    import ast

    from alwa.runs.profile import Profile

    read = set()
    for path in (ROOT / "alwa").rglob("*.py"):
        read |= _profile_reads(ast.parse(path.read_text()))
    for path in (ROOT / "notebooks").glob("[0-9]*.py"):
        tree = ast.parse(path.read_text())
        read |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "p"}
    assert {"faster_setting", "abl_C", "setting_for", "curve_window", "bs_n_gt", "grid_losses"} <= read  # the scan sees what it must
    known = set(Profile.keys()) | {m for m in dir(Profile) if not m.startswith("_")}
    assert read <= known, sorted(read - known)
    assert _profile_reads(ast.parse("def f(p: Profile):\n    return p.retina_seed\n")) == {"retina_seed"}  # the scan would catch a typo


@pytest.mark.parametrize("profile", ["smoke", "cpu", "gpu"])
def test_every_params_file_is_valid(profile):
    from alwa.runs.profile import load_profile

    p = load_profile(profile)
    assert p.profile == profile


def test_a_parameter_the_notebook_does_not_have_fails_in_its_first_cell(tmp_path):
    nb = ROOT / "notebooks" / "04_ablations.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(nb), str(tmp_path / "out.ipynb"), parameters={"profile": "smoke", "retina_seed": 5,
                            "results_root": str(tmp_path)}, cwd=str(ROOT), kernel_name="python3", progress_bar=False)
    assert "no parameter 'retina_seed'" in str(e.value) and "retina_seeds" in str(e.value)
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    failed = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    injected = next(i for i, c in enumerate(code) if "injected-parameters" in c.metadata.get("tags", []))
    assert failed == [injected + 1]  # the first cell after the parameters
    assert not list((tmp_path / "smoke").rglob("*.json"))  # nothing ran


def test_a_bad_override_fails_naming_the_key(tmp_path):
    nb = ROOT / "notebooks" / "04_ablations.ipynb"
    with pytest.raises(pm.PapermillExecutionError, match=r"setting\.iter'.*did you mean 'setting\.iters'"):
        pm.execute_notebook(str(nb), str(tmp_path / "out.ipynb"), parameters={"profile": "smoke", "results_root": str(tmp_path),
                            "overrides": {"setting": {"iter": 5}}}, cwd=str(ROOT), kernel_name="python3", progress_bar=False)


def test_the_book_passes_no_unknown_parameter(tmp_path, caplog):
    """Papermill warns 'Passed unknown parameter' for every key a notebook does not declare; the book passes none."""
    import logging

    from alwa.book.build import execute

    with caplog.at_level(logging.WARNING, logger="papermill"):
        execute("smoke", str(tmp_path), tmp_path / "nb", prepare_only=True)
    assert not [r for r in caplog.records if "unknown parameter" in r.getMessage().lower()]
    assert len(list((tmp_path / "nb").glob("*.ipynb"))) == len(NOTEBOOKS)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_notebook_reads_a_profile_key_as_a_bare_name(nb):
    """Profile values come from ``p`` (the checked profile): a bare ``data_dir`` would be a NameError at
    run time, since the notebooks' only parameters are NOTEBOOK_PARAMETERS."""
    import ast

    import jupytext

    from alwa.runs.profile import Profile

    assigned, loaded = set(), set()
    for c in jupytext.read(nb.with_suffix(".py")).cells:
        if c.cell_type != "code":
            continue
        src = "\n".join(line for line in c.source.splitlines() if not line.lstrip().startswith("%"))
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Name):
                (assigned if isinstance(node.ctx, ast.Store) else loaded).add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                assigned |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, (ast.FunctionDef, ast.arg)):
                assigned.add(getattr(node, "name", None) or node.arg)
    assert not (loaded & set(Profile.keys())) - assigned


def _alwa_imports(src: str) -> list:
    """(module, name or None) of every top-level ``import alwa...`` / ``from alwa... import name`` of a source."""
    import ast

    out = []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "alwa":
            out += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names if a.name.split(".")[0] == "alwa"]
    return out


@pytest.mark.parametrize("src", sorted((ROOT / "notebooks").glob("[0-9]*.py")) + [ROOT / "book" / "use_pytorch.py"], ids=lambda p: p.stem)
def test_every_alwa_import_of_a_notebook_resolves(src):
    """A moved or renamed module fails here, in seconds, instead of in the notebook's execution (a slow test)."""
    import importlib

    text = "\n".join(line for line in src.read_text().splitlines() if not line.lstrip().startswith("%"))
    imports = _alwa_imports(text)
    assert imports, "the scan found no alwa import"
    for module, name in imports:
        mod = importlib.import_module(module)
        assert name is None or hasattr(mod, name) or importlib.util.find_spec(f"{module}.{name}") is not None, (module, name)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_plumbing_cells_are_tagged_for_the_reader(nb, tmp_path):
    """The parameters cell is removed from the page, the setup cell shows its output only; papermill's injected
    cell is tagged like the parameters cell by the book build."""
    from alwa.book.build import hide_injected_parameters

    cells = [c for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code"]
    assert "remove-cell" in cells[0].metadata.get("tags", []) and "parameters" in cells[0].metadata["tags"]
    assert "nbh.setup(" in cells[1].source and "remove-input" in cells[1].metadata.get("tags", [])
    out = tmp_path / nb.name
    pm.execute_notebook(str(nb), str(out), parameters={"profile": "smoke"}, prepare_only=True, kernel_name="python3")
    hide_injected_parameters(out)
    injected = [c for c in nbformat.read(out, as_version=4).cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "remove-cell" in injected[0].metadata["tags"]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_code_a_reader_sees_fits_the_page(nb):
    """Code cells that stay on the page (not removed, input not hidden) have lines of at most 66 characters: the
    book's text column shows them without horizontal scrolling (it holds about 68 characters of code at a 1200 px
    window, measured in headless Chromium; tests/book/test_book.py checks the rendered pages)."""
    long = []
    for cell in nbformat.read(nb, as_version=4).cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and not {"remove-cell", "remove-input"} & set(tags):
            long += [line for line in cell.source.splitlines() if len(line) > 66]
    assert not long, long


def test_the_book_refuses_a_parameter_a_notebook_does_not_declare(tmp_path):
    """papermill would inject an unknown parameter and the notebook would ignore it: the book build names it before
    any kernel starts."""
    from alwa.book import build
    from alwa.report.notebook import check_parameters

    assert build.check_parameters is check_parameters  # one check, in the book build and in each notebook
    nb = NOTEBOOKS[0]
    check_parameters({"profile": "smoke", "results_root": "r", "max_runs": 0}, nb.name)
    with pytest.raises(ValueError, match=rf"{nb.name} has no parameter 'retina_seeds' \(a profile key like 'retina_seeds' goes in "
                                         "overrides.*; its parameters: profile, "):
        check_parameters({"profile": "smoke", "retina_seeds": 2}, nb.name)
