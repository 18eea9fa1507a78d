"""The package's layers (``alwa/__init__.py`` lists them): the import-linter contracts of pyproject.toml hold, each
kind of contract can fail, and no module imports a package module inside a function (the way a cycle is dodged),
except where named below."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# function-level imports of alwa modules that are allowed, and why
LAZY = {
    "alwa/cli/__init__.py": "each command imports its implementation when asked for (alwa data never imports mmdet)",
    "alwa/bench/train.py": "the mmdet adapter (and mmdet) only when a train-step benchmark runs",
}


def _lint_imports(config=None):
    exe = Path(sys.executable).parent / "lint-imports"
    args = [str(exe)] + (["--config", str(config)] if config else [])
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT)


def _config(tmp_path, contract: str) -> Path:
    cfg = tmp_path / "contract.toml"
    cfg.write_text('[tool.importlinter]\nroot_package = "alwa"\ninclude_external_packages = true\n\n' + contract)
    return cfg


def test_the_contracts_hold():
    """Layers (cli > book > report > bench > analysis > runs > mmdet > data > core, every module in one), the core and
    the runs/analysis/report without mm*: direct and indirect imports, function-level ones too."""
    r = _lint_imports()
    assert r.returncode == 0 and "3 kept, 0 broken" in r.stdout, r.stdout + r.stderr


def test_a_layers_contract_can_fail(tmp_path):
    cfg = _config(tmp_path, '[[tool.importlinter.contracts]]\nname = "core above cli"\ntype = "layers"\n'
                            'containers = ["alwa"]\nlayers = ["core", "cli"]\n')
    r = _lint_imports(cfg)
    assert r.returncode != 0 and "BROKEN" in r.stdout  # the cli imports the core


def test_a_forbidden_contract_can_fail_and_the_profile_no_longer_needs_the_adapter(tmp_path):
    bench = '[[tool.importlinter.contracts]]\nname = "bench without mm*"\ntype = "forbidden"\nsource_modules = ["alwa.bench"]\n' \
            'forbidden_modules = ["mmdet", "mmcv", "mmengine"]\n'
    r = _lint_imports(_config(tmp_path, bench))
    assert r.returncode != 0 and "BROKEN" in r.stdout  # alwa.bench.train trains the mmdet RetinaNet
    profile = bench.replace("bench without", "profile without").replace('["alwa.bench"]', '["alwa.runs.profile"]')
    r = _lint_imports(_config(tmp_path, profile))
    assert r.returncode == 0 and "KEPT" in r.stdout, r.stdout  # its typed settings live in alwa.core.settings


def function_level_imports(path: Path) -> list:
    """(line, module) of every import of an alwa module inside a function of ``path``."""
    out = []
    for fn in ast.walk(ast.parse(path.read_text())):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "alwa"):
                    out.append((node.lineno, "." * node.level + (node.module or "")))
                elif isinstance(node, ast.Import):
                    out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "alwa"]
    return out


def test_no_module_imports_the_package_inside_a_function():
    found = {str(p.relative_to(ROOT)): function_level_imports(p) for p in sorted((ROOT / "alwa").rglob("*.py"))}
    found = {k: v for k, v in found.items() if v and k not in LAZY}
    assert not found, found
    assert all(function_level_imports(ROOT / k) for k in LAZY), "an allowed exception that no longer exists: drop it from LAZY"


def test_the_scan_finds_a_function_level_import(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import os\n\ndef f():\n    from alwa.runs import sweep\n    import alwa.core\n    from . import x\n    import json\n")
    assert function_level_imports(f) == [(4, "alwa.runs"), (5, "alwa.core"), (6, ".")]
