"""Write the source notebooks from cell lists (clean: no outputs, a tagged
``parameters`` cell). Each notebook's cells live in tools/notebooks/NN_*.py as
``CELLS = [("md"|"code"|"params", source), ...]``.

    python tools/nbtools.py            # rewrite every notebook
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def build(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, src in cells:
        src = src.strip("\n")
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(src))
        elif kind == "params":
            c = nbformat.v4.new_code_cell(src)
            c.metadata["tags"] = ["parameters"]
            nb.cells.append(c)
        elif kind == "code":
            nb.cells.append(nbformat.v4.new_code_cell(src))
        elif kind == "hidden":
            c = nbformat.v4.new_code_cell(src)
            c.metadata["tags"] = ["remove-input"]
            nb.cells.append(c)
        else:
            raise ValueError(kind)
    for i, c in enumerate(nb.cells):  # stable ids: rewriting gives identical files
        c["id"] = f"cell-{i:02d}"
    return nb


def main():
    for spec in sorted((ROOT / "tools" / "notebooks").glob("[0-9]*.py")):
        s = importlib.util.spec_from_file_location(spec.stem, spec)
        mod = importlib.util.module_from_spec(s)
        s.loader.exec_module(mod)
        out = ROOT / "notebooks" / f"{spec.stem}.ipynb"
        nbformat.write(build(mod.CELLS), out)
        print("wrote", out.relative_to(ROOT))


if __name__ == "__main__":
    sys.exit(main())
