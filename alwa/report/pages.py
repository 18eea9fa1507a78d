"""The book's generated pages: claims, calibrations, data and tuning, rendered from the Jinja templates in
``alwa/report/templates`` with what the analysis layer computes from the result files.

Paths: ``results_root`` (the result files), ``source`` (the checkout holding ``book/data`` and
``notebooks/params``; default the current folder). Nothing is found through the package's location except
its own templates.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

import jinja2
import yaml

from alwa.analysis import claims as cl
from alwa.analysis import summaries as sm
from alwa.analysis.claims import CLAIMS, all_claims
from alwa.analysis.records import Claim, Status
from alwa.core.checks import DETECTOR_RECORD, DetectorCheck, load_detector_checks
from alwa.core.settings import CLASSES
from alwa.data.check import check_voc
from alwa.report.notebook import profile_label
from alwa.report.store import load_claims, load_loss_claims, load_regime_claims
from alwa.report.plots import plot_report
from alwa.runs import specs as ex
from alwa.runs.profile import Profile, load_profile, params_path, results_dir
from alwa.runs.store import load_results, result_problems

PAPER_EVIDENCE = {
    "C1": "section 3.2 and figure 2 (qualitative)", "C2": "figure 3", "C3": "tables 1 and 8", "C4": "section 3.1",
    "C5": "table 1", "C6": "table 2: +0.09 to +1.14 points (R-50), -0.09 to +1.07 (R-101)",
    "C7": "table 3: +0.95 to +1.42 points", "C8": "tables 4-6: +0.0 to +0.5 AP", "C9": "tables 7 and 8",
    "C10": "sections 3.2 and 5 (no measurement given)", "C11": "sections 3.2 and 4.2",
}
REGIME_CLAIMS = ("C3", "C6", "C7", "C9", "C11")
REGIMES = ("short", "tuned", "paper")
TARGET_WORDS = {True: "met", False: "**missed**", None: "not known yet"}

_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("templates"))), trim_blocks=True,
                          lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)
_ENV.filters["cell"] = lambda v: str(v).replace("|", "/")  # a value inside a Markdown table cell
# a plain value (no Markdown of its own) in a table cell, which may break after an underscore: a run's name
_ENV.filters["name_cell"] = lambda v: str(v).replace("|", "/").replace("_", "_<wbr>")


def render(template: str, **context) -> str:
    """``templates/<template>.md.j2`` with ``context``; an undefined name is an error, never an empty cell."""
    return _ENV.get_template(f"{template}.md.j2").render(**context)


def runs_context(profile: str, results_root: str, p: Profile) -> dict:
    """How many of the profile's planned training runs a page rests on, their compute, the setting and its targets."""
    out = results_dir(results_root, profile, "runs")
    st = ex.sweep_status(p, out)
    t = st["total"]
    targets = [{**r, "word": TARGET_WORDS[r["met"]]} for r in sm.target_check(p, out, status=st)]
    return {"bad": result_problems(out),  # bad or unreadable records: left out of every row below, and said so
            "done": t["done"], "planned": t["planned"], "failed": t["failed"], "compute_h": t["compute_s"] / 3600,
            "wall_h": t["wall_h"], "workers": st["workers"],
            "parts": "; ".join(f"{name} {r['done']} of {r['planned']}" for name, r in st["parts"].items()),
            "setting": calibration_label(p) if p.data == "mini" else None, "targets": targets}


def regimes_context(profile: str, results_root: str) -> Optional[dict]:
    """The verdicts of C3, C6, C7, C9 and C11 per regime (short schedule as published / tuned / paper regime), from the
    claim store (``claims/regimes.json``, written by the learning-rate chapter); None where that chapter has not run."""
    rec = load_regime_claims(results_root, profile)
    if rec is None:
        return None
    state, by = rec["context"], rec["by_regime"]
    rows = []
    for c in REGIME_CLAIMS:
        cells = []
        for reg in REGIMES:
            v = by.get(c, {}).get(reg, Claim(c, "", Status.NOT_RUN))
            cells.append({"status": "smoke: no verdict" if profile == "smoke" else v.status, "ours": v.ours})
        rows.append({"id": c, "cells": cells})
    return {"runs_done": state.get("runs_done"), "runs_planned": state.get("runs_planned"), "stage": state.get("stage"),
            "schedule": state.get("schedule") or "not decided", "converged": state.get("converged"),
            "tuned_lr": state.get("tuned_lr") or "not decided", "rows": rows}




def losses_context(profile: str, results_root: str) -> Optional[dict]:
    """The settling study's verdicts of C6 and C11 per regression loss, from the claim store (``claims/by_loss.json``,
    written by alwa claims from the settling study); None where it has not run."""
    rec = load_loss_claims(results_root, profile)
    if rec is None:
        return None
    by, state = rec["by_loss"], rec["context"]
    losses = list(dict.fromkeys(loss for per in by.values() for loss in per))
    rows = [{"id": c, "cells": [{"status": "smoke: no verdict" if profile == "smoke" else per[loss].status,
                                 "ours": per[loss].ours} if loss in per else {"status": Status.NOT_RUN, "ours": ""}
                                for loss in losses]} for c, per in by.items()]
    return {"losses": [ex.LOSS_NAMES.get(loss, loss) for loss in losses], "rows": rows, "stage": state.get("stage"),
            "runs_done": state.get("runs_done"), "runs_planned": state.get("runs_planned")}


def claims_page(profile: str, results_root: str, source=".") -> str:
    """Every claim C1-C11: the paper's statement and evidence beside our result and its status."""
    claims = all_claims(load_claims(results_root, profile))
    paper = yaml.safe_load((Path(source) / "book" / "data" / "paper_tables.yaml").read_text())["claims"]
    rows = []
    for c, rec in claims.items():
        rows.append({"id": c, "paper": paper.get(c, ""), "evidence": PAPER_EVIDENCE[c], "ours": rec.ours,
                     "status": "smoke: no verdict" if profile == "smoke" else rec.status})
    p = load_profile(profile, params_path(profile, source), results_root)
    return render("claims", profile=profile, label=profile_label(profile), results_root=results_root,
                  runs=runs_context(profile, results_root, p), rows=rows, regimes=regimes_context(profile, results_root),
                  losses=losses_context(profile, results_root))


def archived_calibrations(results_root) -> list[Path]:
    """Folders ``<results_root>/archive/<name>/`` of earlier calibrations: a ``params.yaml`` (the profile's
    parameters they were run with) beside their ``runs/``, ``claims/`` and ``tables/``."""
    d = Path(results_root) / "archive"
    return sorted(a for a in d.iterdir() if (a / "params.yaml").is_file()) if d.is_dir() else []


def calibration_label(p: Profile) -> str:
    """'3 classes; RetinaNet 600 iterations, Faster R-CNN 400' from a profile's parameters."""
    classes = p.dataset.get("classes") or CLASSES
    retina = p.setting.get("iters", "default")
    faster = {**p.setting, **p.faster_setting}.get("iters", "default")
    return f"{len(classes)} classes ({', '.join(classes)}); RetinaNet {retina} iterations, Faster R-CNN {faster}"


def calibrations_page(profile: str, results_root: str, source=".") -> str:
    """The claims of the current calibration of ``profile`` beside those of every archived one."""
    sets = [("current (this book)", load_profile(profile, params_path(profile, source), results_root), results_dir(results_root, profile, "runs").parent)]
    sets += [(f"archive/{a.name}", Profile.from_mapping(yaml.safe_load((a / "params.yaml").read_text()), str(a / "params.yaml")), a) for a in archived_calibrations(results_root)]
    rows = []
    for name, p, root in sets:
        st = ex.sweep_status(p, root / "runs")["total"]
        summary = sm.summary_table(load_results(root / "runs", ex.alwa_specs(p)))
        rows.append({"name": name, "setting": calibration_label(p), "done": st["done"], "planned": st["planned"],
                     "retina": cl.baseline_level(summary, p, "retinanet"), "faster": cl.baseline_level(summary, p, "faster-rcnn"),
                     "claims": load_claims(root.parent, root.name)})
    shown = [c for c in CLAIMS if any(c in r["claims"] for r in rows)]
    return render("calibrations", profile=profile, results_root=results_root, sets=rows, shown=shown)


def data_page(profile: str, dest: Path, source=".") -> str:
    """Dataset check of the profile's training data (the figure is written next to the page, in ``dest``); the
    profile's data folders are relative to ``source``."""
    p = load_profile(profile, params_path(profile, source), "results")
    root = Path(p.data_dir) if p.data == "mini" else Path(p.data_root)
    root = root if root.is_absolute() or str(source) == "." else Path(source) / root
    summary = None
    if (root / "VOCdevkit").exists() or (root / "VOC2007").exists():
        rep = check_voc(root)
        plot_report(rep, Path(dest) / "dataset_check.png")
        summary = rep.summary()
    return render("data", label=profile_label(profile), root=root, summary=summary)


def _round_title(section: str) -> str:
    """A section of the calibration log as a reader's title: ``session_2`` -> ``calibration round 2``."""
    return re.sub(r"\bsession\b", "calibration round", section.replace("_", " "))


def _given(v) -> bool:
    return v is not None and v != ""


def tuning_page(source=".") -> str:
    """The calibration runs of the mini setting (``book/data/tuning_runs.yaml``) as tables, the prose first."""
    data = yaml.safe_load((Path(source) / "book" / "data" / "tuning_runs.yaml").read_text())
    prose = [(_round_title(section), text.strip()) for section, text in data.items() if isinstance(text, str)]
    first = ["change", "mAP", "name", "data"]  # the columns a reader looks for, before the table scrolls sideways
    tables = []
    for section, rows in data.items():
        if not isinstance(rows, list) or not rows:
            continue
        keys = list(dict.fromkeys(k for r in rows for k in r))
        # a setting only a few runs of the table changed (given in fewer than half its rows, and not in every one) is
        # said in one "other" column, "name: value; ...", so that the table fits the text width
        rare = [k for k in keys if k not in first and 2 * sum(_given(r.get(k)) for r in rows) < len(rows)]
        cols = [c for c in first if c in keys] + [c for c in keys if c not in first and c not in rare]
        cells = [[r.get(c, "") for c in cols] for r in rows]
        if rare:
            cols.append("other")
            for row, r in zip(cells, rows):
                row.append("; ".join(f"{k}: {r[k]}" for k in rare if _given(r.get(k))))
        tables.append({"title": _round_title(section), "columns": cols, "rows": cells})
    return render("tuning", prose=prose, tables=tables)


DETECTOR_NAMES = {"retinanet": "RetinaNet", "faster-rcnn": "Faster R-CNN"}


def speed_page(profile: str, results_root: str) -> str:
    """Where a mini run's time goes and what each speed-up gives, from ``<results>/<profile>/bench/speed.json``
    (``alwa bench speed``); the cpu profile's record where this profile has none (the smoke build says so)."""
    path = Path(results_root) / profile / "bench" / "speed.json"
    if not path.exists():
        path = Path(results_root) / "cpu" / "bench" / "speed.json"
    rec = json.loads(path.read_text()) if path.exists() else None
    prov = (rec or {}).get("provenance", {})
    checks = [len(v.get("losses", [])) for d in (rec or {}).get("detectors", []) for v in d["paths"].values() if "losses" in v]
    return render("speed", rec=rec, record_path=str(path), made=prov.get("time_utc", "-"), names=DETECTOR_NAMES,
                  machine=f"{prov.get('cpu_count', '?')} CPU cores, torch {prov.get('torch', '?')}",
                  check_steps=max(checks, default=0))


def key_list(keys) -> str:
    """Loss keys for a table cell, a DETR head's auxiliary layers folded: ``loss_cls, d0-d4.loss_cls``; ``-`` for
    none."""
    keys, folded, seen = list(keys), [], set()
    for k in keys:
        m = re.fullmatch(r"d(\d+)\.(.+)", k)
        if m is None:
            folded.append(f"`{k}`")
            continue
        if m.group(2) in seen:
            continue
        seen.add(m.group(2))
        layers = sorted(int(x.group(1)) for x in (re.fullmatch(r"d(\d+)\.(.+)", j) for j in keys)
                        if x and x.group(2) == m.group(2))
        span = f"d{layers[0]}-d{layers[-1]}" if layers == list(range(layers[0], layers[-1] + 1)) and len(layers) > 1 \
            else ",".join(f"d{i}" for i in layers)
        folded.append(f"`{span}.{m.group(2)}`")
    return ", ".join(folded) if folded else "-"


def check_verdict(c: DetectorCheck) -> str:
    """A detector check in a few words: ``exact`` or what went wrong."""
    if c.error is not None:
        return f"**fails**: {c.error}"
    if c.ok:
        return "exact"
    return (f"**differs** (weight 1: {c.identity_max_abs_diff:.3g}; fixed weights: {c.scaled_max_abs_err:.3g})")


def mmdet_page(results_root: str, source=".") -> str:
    """The mmdet how-to with the stock-detector table from ``<results>/mmdet/detectors.json``
    (``alwa bench detectors``), or the checkout's record (``<source>/results/mmdet/detectors.json``) where
    ``results_root`` has none: the check does not depend on a profile."""
    path = Path(results_root) / "mmdet" / "detectors.json"
    if not path.exists():
        path = Path(source) / DETECTOR_RECORD
    checks = load_detector_checks(path) or []
    prov = json.loads(path.read_text()).get("provenance", {}) if path.exists() else {}
    rows = [{"detector": c.detector, "config": c.config, "head": c.head or "(default)", "head_type": c.head_type or "?",
             "cls": key_list(c.cls_keys), "reg": key_list(c.reg_keys), "untouched": key_list(c.untouched),
             "verdict": check_verdict(c)} for c in checks]
    return render("use_mmdet", rows=rows, record_path=str(path), made=prov.get("time_utc", "-"),
                  machine=f"{prov.get('cpu_count', '?')} CPU cores, torch {prov.get('torch', '?')}",
                  mmdet=prov.get("mmdet", "3.x"), iterations=max((c.iterations for c in checks), default=0))


def write_pages(profile: str, results_root: str, dest: Path, source=".") -> list[Path]:
    """Write the generated pages (and the data page's figure) into ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    pages = {"claims.md": claims_page(profile, results_root, source), "data.md": data_page(profile, dest, source),
             "tuning.md": tuning_page(source), "calibrations.md": calibrations_page(profile, results_root, source),
             "speed.md": speed_page(profile, results_root), "use_mmdet.md": mmdet_page(results_root, source)}
    for name, text in pages.items():
        (dest / name).write_text(text)
    return [dest / name for name in pages]
