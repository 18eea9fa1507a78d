"""Build the book: execute the notebooks with papermill at a profile, generate the
claims and data pages from the results, and run ``jupyter-book build`` with
warnings as errors.

    python -m alwa.book build --profile cpu --results results        # make book
    python -m alwa.book build --profile cpu --max-runs 0              # render from the results that exist
    python -m alwa.book build --profile smoke --results /tmp/r --stage /tmp/stage --out /tmp/html

With ``--stage`` (or any profile but the published ``cpu``) the book sources are
copied into a staging folder first, so the committed executed notebooks in
``book/executed`` stay those of the published profile.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import yaml

from .results import check_profile

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PUBLISHED = "cpu"
CLAIMS = ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "C10", "C11"]
PAPER_EVIDENCE = {
    "C1": "section 3.2 and figure 2 (qualitative)", "C2": "figure 3", "C3": "tables 1 and 8", "C4": "section 3.1",
    "C5": "table 1", "C6": "table 2: +0.09 to +1.14 points (R-50), -0.09 to +1.07 (R-101)",
    "C7": "table 3: +0.95 to +1.42 points", "C8": "tables 4-6: +0.0 to +0.5 AP", "C9": "tables 7 and 8",
    "C10": "sections 3.2 and 5 (no measurement given)", "C11": "sections 3.2 and 4.2",
}


def notebook_params(profile: str, results_root: str, max_runs: Optional[int] = None, params_file=None) -> dict:
    """The checked parameters of a profile (:func:`alwa.profile.load_profile`)."""
    from .profile import load_profile

    return load_profile(check_profile(profile), params_file, results_root, None if max_runs is None else int(max_runs))


def execute(profile: str, results_root: str, dest: Path, names: Optional[list] = None, prepare_only: bool = False,
            max_runs: Optional[int] = None) -> list[Path]:
    """papermill every notebook (or ``names``) into ``dest``; ``max_runs`` caps the
    training runs each notebook starts (0: render from the results that exist)."""
    import papermill as pm

    dest.mkdir(parents=True, exist_ok=True)
    notebook_params(profile, results_root, max_runs)  # refuse a bad profile before any notebook starts
    params = {"profile": profile, "results_root": str(results_root), "max_runs": max_runs}
    out = []
    for nb in sorted(NOTEBOOKS.glob("[0-9]*.ipynb")):
        if names and nb.stem not in names:
            continue
        target = dest / nb.name
        t = time.time()
        print(f"[book] executing {nb.name} at profile {profile}", flush=True)
        pm.execute_notebook(str(nb), str(target), parameters=params, cwd=str(ROOT), kernel_name="python3",
                            prepare_only=prepare_only, progress_bar=True)
        print(f"[book] {nb.name}: {time.time() - t:.0f} s", flush=True)
        out.append(target)
    return out


def _c1_claim(results_root: str, profile: str) -> dict:
    f = Path(results_root) / profile / "box_shifting" / "c1.json"
    if not f.exists():
        return {"ours": "not run", "status": "too few runs"}
    d = json.loads(f.read_text())
    std, cv = d["frac_c1_holds_std"], d["frac_c1_holds_cv"]
    where = ", ".join(f"{r['reg_loss']} at ±{r['shift_range']} ({r['score_model']})" for r in d["settings_where_std_holds"]) or "none"
    status = "supported" if std > 0.5 else "not supported"
    return {"ours": f"per box, std(cls) > std(reg) in {100 * std:.0f}% of {len(d['rows'])} settings (where: {where}); "
                    f"CV(cls) > CV(reg) in {100 * cv:.0f}%", "status": status}


def runs_summary(profile: str, results_root: str) -> list[str]:
    """Markdown lines: how many of the profile's planned training runs the page rests on, and their compute."""
    from . import experiments as ex
    from .results import results_dir

    p = notebook_params(profile, results_root)
    st = ex.sweep_status(p, results_dir(results_root, profile, "runs"))
    t = st["total"]
    parts = "; ".join(f"{name} {r['done']} of {r['planned']}" for name, r in st["parts"].items())
    line = (f"**Runs behind this page:** {t['done']} of the profile's {t['planned']} planned training runs have finished "
            f"({parts}), {t['failed']} failed; they took {t['compute_s'] / 3600:.1f} h of compute "
            f"({t['wall_h']:.1f} h of wall time with {st['workers']} worker(s); `python -m alwa.experiments status --profile {profile}`).")
    if t["done"] < t["planned"]:
        line += " Claims that rest on missing runs say *too few runs* or count only the seeds that exist."
    out = [line, ""]
    if p.get("data", "mini") == "mini":
        out += [f"**Setting:** {calibration_label(p)} "
                f"(`notebooks/params/{profile}.yaml`; earlier settings: [calibrations compared](calibrations.md)).", ""]
    targets = ex.target_check(p, results_dir(results_root, profile, "runs"))
    if targets:
        word = {True: "met", False: "**missed**", None: "not known yet"}
        out += ["**The setting's targets** (from the project's issue; `python -m alwa.experiments status`):", ""]
        out += [f"- {r['target']} {r['goal']}: {r['measured']}: {word[r['met']]}" for r in targets] + [""]
    return out


def claims_page(profile: str, results_root: str) -> str:
    from .notebook import load_claims, profile_label

    claims = load_claims(results_root, profile)
    claims["C1"] = _c1_claim(results_root, profile)
    claims.setdefault("C8", {"ours": "COCO is not part of the mini reproduction", "status": "needs GPU"})
    tables = yaml.safe_load((ROOT / "book" / "data" / "paper_tables.yaml").read_text())["claims"]
    lines = [
        "# Claims: the paper against our runs", "",
        f"Generated by `alwa.book` from the result files of **{profile_label(profile)}** "
        f"(`{results_root}/{profile}`) and the paper's numbers (`book/data/paper_tables.yaml`). "
        "Statuses: *supported*, *not supported*, *inconclusive at mini scale*, *needs GPU* (a claim about VOC/COCO "
        "at full scale), *too few runs* (results missing or fewer than two seeds).", "",
    ]
    if profile == "smoke":
        lines += ["```{warning}", "These are SMOKE runs (a few iterations on a tiny set): they test the pipeline and are not evidence.", "```", ""]
    elif profile == "cpu":
        lines += ["```{note}", "The mini runs stop far from convergence (their baselines are well below the paper's mAP; see "
                  "[the tuning page](tuning.md)). There a loss weight below 1, fixed or set by ALWA, also acts as a lower "
                  "learning rate, which alone costs mAP. A *not supported* below says what the mini setting shows, "
                  "not what happens on VOC or COCO.", "```", ""]
    lines += runs_summary(profile, results_root)
    lines += ["| claim | the paper says | paper's evidence | our result | status |", "| --- | --- | --- | --- | --- |"]
    for c in CLAIMS:
        rec = claims.get(c, {"ours": "not measured yet", "status": "too few runs"})
        text = str(tables.get(c, "")).replace("|", "/")
        ours = str(rec.get("ours", "")).replace("|", "/")
        status = "smoke: no verdict" if profile == "smoke" else rec.get("status")
        lines.append(f"| {c} | {text} | {PAPER_EVIDENCE[c]} | {ours} | **{status}** |")
    lines += ["", "Where a status rests on a mini-scale run, it says what the mini setting shows, not what happens on VOC or COCO."]
    lines += regime_lines(profile, results_root)
    return "\n".join(lines) + "\n"


REGIME_CLAIMS = ("C3", "C6", "C7", "C9", "C11")


def regime_lines(profile: str, results_root: str) -> list[str]:
    """The verdicts of C3, C6, C7, C9 and C11 per regime (short schedule as published / tuned / paper regime),
    from the learning-rate chapter's record (``tables/lr_study.json``); a note where it has not run."""
    f = Path(results_root) / profile / "tables" / "lr_study.json"
    head = ["", "## Per regime: loss weight or learning rate?", ""]
    if not f.exists():
        return head + ["The chapter *Loss weight or learning rate?* has not been executed at this profile: no verdict per regime."]
    rec = json.loads(f.read_text())
    state, by = rec.get("state", {}), rec.get("regime_claims", {})
    lines = head + [f"From [the chapter](../executed/05_lr_study.ipynb): {rec.get('runs_done')} of {rec.get('runs_planned')} planned runs "
                    f"finished (stage: {state.get('stage')}; schedule {state.get('schedule') or 'not decided'}, tuned lr "
                    f"{state.get('tuned_lr') or 'not decided'}). *short*: the published runs above; *tuned*: the converged schedule "
                    "at the tuned lr; *paper*: that schedule at twice the tuned lr.", "",
                    "| claim | short (as published) | tuned | paper regime |", "| --- | --- | --- | --- |"]
    for c in REGIME_CLAIMS:
        cells = []
        for reg in ("short", "tuned", "paper"):
            v = by.get(c, {}).get(reg, {"status": "not run", "ours": ""})
            status = "smoke: no verdict" if profile == "smoke" else v.get("status")
            cells.append(f"**{status}**: {str(v.get('ours', '')).replace('|', '/')}")
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    return lines


def archived_calibrations(results_root) -> list[Path]:
    """Folders ``<results_root>/archive/<name>/`` of earlier calibrations: a ``params.yaml`` (the profile's
    parameters they were run with) beside their ``runs/``, ``claims/`` and ``tables/``."""
    d = Path(results_root) / "archive"
    return sorted(a for a in d.iterdir() if (a / "params.yaml").is_file()) if d.is_dir() else []


def calibration_label(p: dict) -> str:
    """'3 classes; RetinaNet 600 iterations, Faster R-CNN 400' from a profile's parameters."""
    from .data.synthetic import CLASSES

    classes = (p.get("dataset") or {}).get("classes") or CLASSES
    retina = (p.get("setting") or {}).get("iters", "default")
    faster = {**(p.get("setting") or {}), **(p.get("faster_setting") or {})}.get("iters", "default")
    return f"{len(classes)} classes ({', '.join(classes)}); RetinaNet {retina} iterations, Faster R-CNN {faster}"


def calibrations_page(profile: str, results_root: str) -> str:
    """The claims of the current calibration of ``profile`` beside those of every archived one."""
    from . import claims as cl
    from . import experiments as ex
    from .notebook import load_claims
    from .results import results_dir
    from .sweep import load_results

    sets = [("current (this book)", notebook_params(profile, results_root), Path(results_dir(results_root, profile, "runs")).parent)]
    sets += [(f"archive/{a.name}", yaml.safe_load((a / "params.yaml").read_text()), a) for a in archived_calibrations(results_root)]
    lines = ["# Calibrations compared", "",
             "The mini setting was calibrated more than once (see [the tuning page](tuning.md)). When a calibration is "
             "replaced, its complete results move to `results/archive/<name>/` with the parameters they were made with "
             "(`python -m alwa.experiments archive --profile cpu --name <name>`, before the parameters change), "
             "and this page sets its verdicts beside the current ones. A verdict that holds under both rests on more "
             "than one choice of data difficulty and schedule; one that flips depends on it.", ""]
    if len(sets) == 1:
        return "\n".join(lines + [f"No earlier calibration of profile {profile} is archived under `{results_root}/archive/`.", ""])
    lines += ["| calibration | setting | runs done | RetinaNet baseline mAP (L1, points) | Faster R-CNN baseline mAP (L1, points) |",
              "| --- | --- | --- | --- | --- |"]
    verdicts = []
    for name, p, root in sets:
        st = ex.sweep_status(p, root / "runs")["total"]
        rows = ex.summary_table(load_results(root / "runs", ex.alwa_specs(p)), ex.baseline_name)
        lines.append(f"| {name} | {calibration_label(p)} | {st['done']} of {st['planned']} | {cl.baseline_level(rows, p, 'retinanet')} "
                     f"| {cl.baseline_level(rows, p, 'faster-rcnn')} |")
        verdicts.append(load_claims(root.parent, root.name))
    lines += ["", "| claim | " + " | ".join(name for name, _, _ in sets) + " |", "| --- |" + " --- |" * len(sets)]
    shown = [c for c in CLAIMS if any(c in v for v in verdicts)]
    for c in shown:
        lines.append(f"| {c} | " + " | ".join(f"**{v[c]['status']}**" if c in v else "not measured" for v in verdicts) + " |")
    lines += ["", "## Our numbers under each calibration", ""]
    for c in shown:
        lines += [f"**{c}**", ""] + [f"- {name}: {str(v[c].get('ours', '')) if c in v else 'not measured'}"
                                     for (name, _, _), v in zip(sets, verdicts)] + [""]
    return "\n".join(lines) + "\n"


def data_page(profile: str, dest: Path) -> str:
    """Dataset check of the profile's training data (the figure is written next to the page)."""
    from .data.check import check_voc, plot_report
    from .notebook import profile_label

    p = notebook_params(profile, "results")
    root = Path(p.get("data_dir", "data/mini_voc")) if p.get("data", "mini") == "mini" else Path(p.get("data_root", "data/VOCdevkit"))
    head = ["# The data", "", f"Profile: **{profile_label(profile)}**.", ""]
    body = ["The mini reproduction trains on a synthetic data set written in the real PASCAL VOC layout by "
            "`python data_scripts/make_mini_voc.py` (deterministic by seed; see `alwa.data.synthetic` for what is drawn). "
            "Real VOC/COCO come from `python data_scripts/download.py voc|coco` (MD5-verified, resumable). "
            "`python data_scripts/check_dataset.py` produced the figure and numbers below.", ""]
    if not (root / "VOCdevkit").exists() and not (root / "VOC2007").exists():
        return "\n".join(head + body + [f"No data set found at `{root}` when the book was built.", ""])
    rep = check_voc(root)
    plot_report(rep, dest / "dataset_check.png")
    s = rep.summary()
    rows = ["| split | images | objects | difficult | median box size (px) |", "| --- | --- | --- | --- | --- |"]
    for split, v in s["splits"].items():
        rows.append(f"| {split} | {v['images']} | {v['objects']} | {v['difficult']} | {v['box_size_px']['median']:.1f} |")
    return "\n".join(head + body + rows + ["", f"Problems found: {s['counts']}.", "",
                                           "```{figure} dataset_check.png", ":name: fig-dataset-check", "",
                                           f"Images per split, objects per class, box sizes and aspect ratios of `{root}`.", "```", ""])


def tuning_page() -> str:
    """The calibration runs of the mini setting (``book/data/tuning_runs.yaml``) as tables."""
    data = yaml.safe_load((ROOT / "book" / "data" / "tuning_runs.yaml").read_text())
    lines = ["# Tuning the mini setting", "",
             "Every run made to choose the mini (`cpu`) setting, as recorded in `book/data/tuning_runs.yaml` "
             "(one seed each, VOC mAP@0.5 on the mini test set, made with `python tools/calibrate.py`). "
             "The issue's target for the RetinaNet baseline is mAP 0.5-0.85 in at most 4 minutes on 2 cores.", ""]
    for section, text in data.items():  # the prose (status, diagnosis) first
        if isinstance(text, str):
            lines += [f"**{section.replace('_', ' ')}.** {text.strip()}", ""]
    first = ["change", "mAP", "name", "data"]  # the columns a reader looks for, before the table scrolls sideways
    for section, rows in data.items():
        if not isinstance(rows, list) or not rows:
            continue
        keys = list(dict.fromkeys(k for r in rows for k in r))
        cols = [c for c in first if c in keys] + [c for c in keys if c not in first]
        lines += [f"## {section.replace('_', ' ')}", "", "| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
        for r in rows:
            lines.append("| " + " | ".join(str(r.get(c, "")).replace("|", "/") for c in cols) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def stage_sources(stage: Path, keep_executed: bool = False) -> None:
    """Copy the book sources into ``stage`` (its executed notebooks are kept if asked)."""
    stage.mkdir(parents=True, exist_ok=True)
    for f in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / f, stage / f)
    for item in ROOT.joinpath("book").iterdir():
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
          execute_notebooks: bool = True, names: Optional[list] = None, max_runs: Optional[int] = None) -> Path:
    check_profile(profile)
    in_place = stage is None and profile == PUBLISHED
    root = ROOT if in_place else Path(stage or ROOT / "_build" / f"stage-{profile}")
    if not in_place:
        stage_sources(root, keep_executed=not execute_notebooks)
    executed = root / "book" / "executed"
    generated = root / "book" / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    if execute_notebooks:
        execute(profile, results_root, executed, names, max_runs=max_runs)
    elif not in_place and not executed.exists() and (ROOT / "book" / "executed").exists():
        shutil.copytree(ROOT / "book" / "executed", executed, dirs_exist_ok=True)
    (generated / "claims.md").write_text(claims_page(profile, results_root))
    (generated / "data.md").write_text(data_page(profile, generated))
    (generated / "tuning.md").write_text(tuning_page())
    (generated / "calibrations.md").write_text(calibrations_page(profile, results_root))
    html_out = Path(out) if out else (ROOT / "_build" if in_place else root / "_build")
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(root), "--path-output", str(html_out.parent if html_out.name == "_build" else html_out),
           "--warningiserror", "--keep-going", "--builder", "html", "--all"]  # --all: pages that only glue notebook values are not seen as changed
    print("[book]", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=str(root))
    html = (html_out if html_out.name == "_build" else html_out / "_build") / "html"
    print(f"[book] built {html / 'index.html'}")
    return html


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--profile", default=PUBLISHED)
    b.add_argument("--results", default="results")
    b.add_argument("--stage", default=None)
    b.add_argument("--out", default=None)
    b.add_argument("--no-execute", action="store_true", help="use the executed notebooks already in book/executed")
    b.add_argument("--only", nargs="*", help="execute only these notebooks (stems)")
    b.add_argument("--max-runs", type=int, default=None,
                   help="start at most this many training runs per notebook (0: use only the results that exist; "
                        "run the rest with `python -m alwa.experiments sweep`)")
    a = ap.parse_args(argv)
    build(a.profile, a.results, a.stage, a.out, not a.no_execute, a.only, a.max_runs)


if __name__ == "__main__":
    main()
