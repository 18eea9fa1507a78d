"""Build the book: execute the notebooks with papermill at a profile, generate the
claims and data pages from the results, and run ``jupyter-book build`` with
warnings as errors.

    alwa book --profile cpu --results results        # make book
    alwa book --profile cpu --max-runs 0              # render from the results that exist
    alwa book --profile smoke --results /tmp/r --stage /tmp/stage --out /tmp/html

With ``--stage`` (or any profile but the published ``cpu``) the book sources are
copied into a staging folder first, so the committed executed notebooks in
``book/executed`` stay those of the published profile.

This module only executes the notebooks (papermill), has the generated pages written
(:func:`alwa.report.pages.write_pages`, from templates) and calls ``jupyter-book build``.
The sources (``notebooks/``, ``book/``, ``_config.yml``, ``_toc.yml``) are those of the
checkout ``--source`` (default: the current folder), never found through the package's location.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import papermill as pm

from alwa.book.prepare import prepare

from alwa.report.notebook import check_parameters
from alwa.report.pages import write_pages
from alwa.runs.profile import add_profile_options, check_profile, load_profile, params_path
from alwa.runs.store import result_problems

PUBLISHED = "cpu"


def notebooks(source=".") -> list[Path]:
    """The numbered notebooks of the checkout ``source``, in order."""
    return sorted((Path(source) / "notebooks").glob("[0-9]*.ipynb"))


def execute(profile: str, results_root: str, dest: Path, names: Optional[list] = None, prepare_only: bool = False,
            max_runs: Optional[int] = None, source=".") -> list[Path]:
    """papermill every notebook of ``source`` (or ``names``) into ``dest``, run in ``source``; ``max_runs`` caps the
    training runs each notebook starts (0: render from the results that exist)."""
    dest.mkdir(parents=True, exist_ok=True)
    load_profile(profile, params_path(profile, source), results_root, max_runs)  # refuse a bad profile before any notebook starts
    params = {"profile": profile, "results_root": str(results_root), "max_runs": max_runs}
    out = []
    for nb in notebooks(source):
        if names and nb.stem not in names:
            continue
        check_parameters(params, nb.name)
        target = dest / nb.name
        t = time.time()
        print(f"[book] executing {nb.name} at profile {profile}", flush=True)
        pm.execute_notebook(str(nb), str(target), parameters=params, cwd=str(source), kernel_name="python3",
                            prepare_only=prepare_only, progress_bar=True)
        if not prepare_only:
            hide_injected_parameters(target)
        print(f"[book] {nb.name}: {time.time() - t:.0f} s", flush=True)
        out.append(target)
    return out


def hide_injected_parameters(path: Path) -> None:
    """Tag the cell papermill injected (``injected-parameters``) ``remove-cell``, as the notebook's own parameters
    cell is: a reader's page opens with the chapter, not with two cells of plumbing. The executed notebook keeps
    the cell (its values stay readable in the file)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    changed = False
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
            changed = True
    if changed:
        nbformat.write(nb, str(path))


def stage_sources(stage: Path, keep_executed: bool = False, source=".") -> None:
    """Copy the book sources of ``source`` into ``stage``: the configuration, the table of contents, the style sheets
    of ``_static/`` and ``book/`` (its executed notebooks are kept if asked)."""
    source = Path(source)
    stage.mkdir(parents=True, exist_ok=True)
    for f in ("_config.yml", "_toc.yml"):
        shutil.copy2(source / f, stage / f)
    if (source / "_static").is_dir():
        shutil.copytree(source / "_static", stage / "_static", dirs_exist_ok=True)
    for item in source.joinpath("book").iterdir():
        if item.name in ("executed", "generated", "_build"):
            continue
        dest = stage / "book" / item.name
        if dest.is_dir():
            shutil.rmtree(dest)
        if item.is_dir():
            shutil.copytree(item, dest)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(item, dest)
    if not keep_executed and (stage / "book" / "executed").exists():
        shutil.rmtree(stage / "book" / "executed")


def build(profile: str = PUBLISHED, results_root: str = "results", stage: Optional[str] = None, out: Optional[str] = None,
          execute_notebooks: bool = True, names: Optional[list] = None, max_runs: Optional[int] = None, source=".") -> Path:
    """Execute the notebooks (unless ``execute_notebooks`` is False), write the generated pages, build the HTML;
    returns the HTML folder. In place for the published profile without ``stage``; staged otherwise."""
    check_profile(profile)
    source = Path(source)
    if not (source / "_config.yml").is_file():
        raise FileNotFoundError(f"{source.resolve()} holds no _config.yml: run from the checkout's root folder or pass --source")
    for part in ("runs", "settle"):  # a bad or unreadable record is left out of every table: say so before building
        for line in result_problems(Path(results_root) / profile / part):
            print(f"[book] warning: {line}", flush=True)
    in_place = stage is None and profile == PUBLISHED
    root = source if in_place else Path(stage or source / "_build" / f"stage-{profile}")
    if not in_place:
        stage_sources(root, keep_executed=not execute_notebooks, source=source)
    executed = root / "book" / "executed"
    generated = root / "book" / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    if execute_notebooks:
        p = load_profile(profile, params_path(profile, source), results_root, max_runs)
        for path, wrote in prepare(p, max_runs, source=source):  # the runs, benchmarks and claim store the notebooks read
            print(f"[book] {'wrote' if wrote else 'unchanged'} {path}", flush=True)
        execute(profile, results_root, executed, names, max_runs=max_runs, source=source)
    elif not in_place and not executed.exists() and (source / "book" / "executed").exists():
        shutil.copytree(source / "book" / "executed", executed, dirs_exist_ok=True)
    write_pages(profile, results_root, generated, source=source)
    html_out = Path(out) if out else (source / "_build" if in_place else root / "_build")
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(root), "--path-output", str(html_out.parent if html_out.name == "_build" else html_out),
           "--warningiserror", "--keep-going", "--builder", "html", "--all"]  # --all: pages that only glue notebook values are not seen as changed
    print("[book]", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=str(root))
    html = (html_out if html_out.name == "_build" else html_out / "_build") / "html"
    print(f"[book] built {html / 'index.html'}")
    return html


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="alwa book", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", description=__doc__.splitlines()[0])
    add_profile_options(b, default=PUBLISHED, params=False)
    b.add_argument("--stage", default=None)
    b.add_argument("--out", default=None)
    b.add_argument("--source", default=".", help="the checkout holding notebooks/, book/ and _config.yml (default: the current folder)")
    b.add_argument("--no-execute", action="store_true", help="use the executed notebooks already in book/executed")
    b.add_argument("--only", nargs="*", help="execute only these notebooks (stems)")
    b.add_argument("--max-runs", type=int, default=None,
                   help="start at most this many training runs per notebook (0: use only the results that exist; "
                        "run the rest with `alwa sweep`)")
    a = ap.parse_args(argv)
    build(a.profile, a.results, a.stage, a.out, not a.no_execute, a.only, a.max_runs, a.source)

