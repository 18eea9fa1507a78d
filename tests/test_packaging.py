"""pyproject's dependencies and extras install what the modules import: `pip install alwa` gives the weighter
with torch alone, and each extra covers its modules (imports read from the source, function-level ones too)."""

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# import name -> distribution name
DIST = {"yaml": "pyyaml", "PIL": "pillow", "IPython": "ipython", "jupyter_book": "jupyter-book", "pkg_resources": "setuptools"}
# which extra a module belongs to (None: the base install)
GROUPS = {
    None: ["__init__", "__main__", "core/__init__", "core/weighter", "core/weightings", "core/experiment", "core/settings", "core/pairing", "cli/__init__",
           "cli/__main__", "core/checks"],
    "bench": ["bench/__init__", "bench/micro", "bench/gpu", "bench/interleave", "core/boxshift", "core/files"],
    "analysis": ["analysis/__init__", "analysis/records", "analysis/summaries", "analysis/claims", "analysis/lrstudy",
                 "analysis/settled", "runs/settle", "core/stats", "runs/engine", "runs/studies", "runs/best",
                 "runs/__init__", "runs/profile", "runs/specs", "runs/store", "runs/worker", "runs/sweep", "runs/study",
                 "report/__init__", "report/tables", "cli/runs", "cli/study", "core/files"],
    "data": ["data/__init__", "data/check", "data/synthetic", "data/download", "cli/data"],
    "mmdet": ["mmdet/__init__", "mmdet/compat", "mmdet/configs", "mmdet/hook", "mmdet/heads", "mmdet/pretrain", "mmdet/run", "bench/train",
              "bench/gpu_mmdet", "mmdet/fingerprint", "mmdet/hooks_config", "bench/speed", "mmdet/detectors",
              "bench/detectors"],
    "cluster": ["runs/cluster"],
    "book": ["book/__init__", "book/build", "book/prepare", "report/store", "cli/claims", "report/notebook", "report/pages", "report/plots", "cli/env_check"],
}


def requirement_names(extra) -> set:
    """Distribution names installed by the base and ``extra`` (following alwa[...] references)."""
    reqs, todo, seen = list(PROJECT["dependencies"]), [extra] if extra else [], set()
    while todo:
        e = todo.pop()
        if e in seen:
            continue
        seen.add(e)
        for r in PROJECT["optional-dependencies"][e]:
            m = re.match(r"alwa\[(.*)\]", r)
            if m:
                todo += m[1].split(",")
            else:
                reqs.append(r)
    return {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in reqs}


def third_party_imports(path: Path) -> set:
    mods = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods.add(node.module.split(".")[0])
    return {m for m in mods if m not in sys.stdlib_module_names and m not in ("alwa", "__future__")}


def test_every_module_is_in_a_group():
    grouped = {m for mods in GROUPS.values() for m in mods}
    present = {str(p.relative_to(ROOT / "alwa").with_suffix("")) for p in (ROOT / "alwa").rglob("*.py")}
    assert present == grouped, (sorted(present - grouped), sorted(grouped - present))


@pytest.mark.parametrize("extra", list(GROUPS), ids=lambda e: e or "base")
def test_each_extra_installs_what_its_modules_import(extra):
    have = requirement_names(extra)
    for mod in GROUPS[extra]:
        need = {DIST.get(m, m).lower() for m in third_party_imports(ROOT / "alwa" / f"{mod}.py")}
        assert need <= have, f"alwa/{mod}.py imports {sorted(need - have)}, not installed by {extra or 'the base install'}"


def test_the_weighter_needs_torch_alone():
    assert requirement_names(None) == {"torch"}
    assert third_party_imports(ROOT / "alwa" / "core" / "weighter.py") == {"torch"} and third_party_imports(ROOT / "alwa" / "__init__.py") == set()


def test_env_pins_check_maps_environment_yml_to_pip_requirements():
    """`make env-pins-check` (needs the registry, so not run here) resolves these lines; their translation is checked here."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_env_pins", ROOT / "tools" / "check_env_pins.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    env = {"dependencies": ["python=3.11", "pip", "pytorch=2.1.2", "pytorch-cuda=12.1", "numpy<2", "scipy", "torchvision=0.16",
                            {"pip": ["mmengine==0.10.7", "mmcv==2.1.0", "tqdm"]}]}
    assert mod.requirements(env) == ["torch==2.1.2", "numpy<2", "scipy", "torchvision==0.16.*", "mmengine==0.10.7", "tqdm"]
    assert mod.python_version(env) == "3.11"
    import yaml

    real = mod.requirements(yaml.safe_load((ROOT / "environment.yml").read_text()))
    assert "torch==2.1.2" in real and not any(r.startswith("mmcv") for r in real)


def test_requires_python_is_what_the_pinned_stack_needs():
    """pyproject's requires-python is no looser than the Requires-Python of the pinned numpy, scipy and pandas."""
    import re
    from importlib import metadata

    text = (ROOT / "pyproject.toml").read_text()
    ours = re.search(r'requires-python\s*=\s*">=(\d+)\.(\d+)"', text)
    assert ours, "requires-python must be a plain lower bound"
    low = (int(ours[1]), int(ours[2]))
    for dist in ("numpy", "scipy", "pandas", "torch"):
        need = metadata.metadata(dist).get("Requires-Python") or ""
        m = re.search(r">=\s*(\d+)\.(\d+)", need)
        if m:
            assert low >= (int(m[1]), int(m[2])), f"{dist} {metadata.version(dist)} needs Python {need}, we say >={low}"
    assert sys.version_info[:2] >= low
