"""The claim store and the result tables, built by the package from the run and benchmark records
(``alwa claims --profile P``; ``alwa book`` runs it before the notebooks, which only read and render).

Under ``<results_root>/<profile>/``:

- ``claims/<part>.json``: the flat claims of each part (``box_shifting``: C1; ``grid``: table 1's claims; ``alwa``:
  tables 2-3's and C10; ``ablation``: tables 7-8's), ``claims/regimes.json`` (the learning-rate study's verdicts per
  regime) and ``claims/by_loss.json`` (the settling study's per regression loss);
- ``box_shifting/c1.json``, ``tables/table1.json``, ``tables23.json``, ``tables78.json``, ``lr_study.json``.

Every file is written with :func:`alwa.core.files.write_result`: a build that changes no number changes no file.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import yaml

from alwa.analysis import claims, lrstudy, settled, summaries as sm
from alwa.analysis.records import Claim, claims_of
from alwa.bench import gpu as gpu_check
from alwa.core import boxshift
from alwa.core.files import provenance, read_json, write_result
from alwa.runs import settle, specs as ex, study
from alwa.runs.profile import Profile, results_dir
from alwa.runs.store import load_results, pending

PAPER_TABLES = "book/data/paper_tables.yaml"


def paper_tables(source=".") -> dict:
    """The paper's numbers (``book/data/paper_tables.yaml`` of the checkout ``source``: a copy of shared/paper/tables.yaml)."""
    return yaml.safe_load((Path(source) / PAPER_TABLES).read_text())


# ------------------------------------------------------------------ reading and writing the store
def claims_path(p: Profile, name: str) -> Path:
    return results_dir(p.results_root, p.profile, "claims") / f"{name}.json"


def save_claims(p: Profile, part: str, measured: dict) -> bool:
    """Claim records (``{'C3': Claim, ...}``) of one part: ``claims/<part>.json``."""
    return write_result(claims_path(p, part), {"profile": p.profile,
                                               "claims": {cid: c.as_dict() for cid, c in claims_of(measured).items()}})


def _save_claims_by(p: Profile, name: str, key: str, by: dict, context: dict) -> bool:
    """``claims/<name>.json``: claims split by a second key (``{'C6': {'l1': Claim, ...}}`` under ``key``) and the state
    of the study that made them (``context``), beside the flat claims (its own ``claims`` is empty)."""
    out = {c: {k: (v if isinstance(v, Claim) else Claim.from_dict(c, v)).as_dict() for k, v in per.items()} for c, per in by.items()}
    return write_result(claims_path(p, name), {"profile": p.profile, "claims": {}, key: out, "context": context})


def _load_claims_by(results_root, profile: str, name: str, key: str) -> Optional[dict]:
    f = Path(results_root) / profile / "claims" / f"{name}.json"
    if not f.exists():
        return None
    d = read_json(f)
    by = {c: {k: Claim.from_dict(c, v) for k, v in per.items()} for c, per in d.get(key, {}).items()}
    return {key: by, "context": d.get("context", {})}


def save_regime_claims(p: Profile, by_regime: dict, context: dict) -> bool:
    """The learning-rate study's verdicts per regime (``{'C3': {'short': Claim, 'tuned': ..., 'paper': ...}}``) and where
    the study stands (``context``: stage, schedule, converged, tuned_lr, runs_done, runs_planned): ``claims/regimes.json``."""
    return _save_claims_by(p, "regimes", "by_regime", by_regime, context)


def save_loss_claims(p: Profile, by_loss: dict, context: dict) -> bool:
    """The settling study's verdicts per regression loss (``{'C6': {'l1': Claim, ...}}``) and where it stands
    (``context``: stage, runs_done, runs_planned): ``claims/by_loss.json``."""
    return _save_claims_by(p, "by_loss", "by_loss", by_loss, context)


def load_regime_claims(results_root, profile: str) -> Optional[dict]:
    """``{'by_regime': {claim: {regime: Claim}}, 'context': {...}}`` from ``claims/regimes.json``; None where not built."""
    return _load_claims_by(results_root, profile, "regimes", "by_regime")


def load_loss_claims(results_root, profile: str) -> Optional[dict]:
    """``{'by_loss': {claim: {loss: Claim}}, 'context': {...}}`` from ``claims/by_loss.json``; None where not built."""
    return _load_claims_by(results_root, profile, "by_loss", "by_loss")


def load_claims(results_root, profile: str, parts=None) -> dict[str, Claim]:
    """Every flat claim recorded under ``<results_root>/<profile>/claims/`` (``parts``: only those files); a status
    outside :class:`~alwa.analysis.records.Status` is refused."""
    out = {}
    d = Path(results_root) / profile / "claims"
    for f in sorted(d.glob("*.json")) if d.exists() else []:
        if parts is None or f.stem in parts:
            out.update(claims_of(read_json(f)["claims"]))
    return out


def load_table(p: Profile, name: str) -> Optional[dict]:
    """``tables/<name>.json`` as written by :func:`build` (None where it is not)."""
    f = results_dir(p.results_root, p.profile, "tables") / f"{name}.json"
    return read_json(f) if f.exists() else None


# ------------------------------------------------------------------ the parts
def runs_of(p: Profile, specs: list) -> list:
    """The finished records of ``specs`` in the profile's runs folder."""
    return load_results(results_dir(p.results_root, p.profile, "runs"), specs)


def box_shifting(p: Profile) -> list[tuple[Path, bool]]:
    """C1 over random ground truths and moves (:func:`alwa.core.boxshift.c1_table`): ``box_shifting/c1.json`` and
    ``claims/box_shifting.json``."""
    t0 = time.time()
    rows = boxshift.c1_table(n_gt=p.bs_n_gt, shifts_per_gt=p.bs_shifts_per_gt, seed=p.seed)
    frac_std = sum(bool(r["c1_holds"]) for r in rows) / len(rows)
    frac_cv = sum(bool(r["c1_holds_cv"]) for r in rows) / len(rows)
    holds_std = [{k: r[k] for k in ("shift_range", "score_model", "reg_loss")} for r in rows if r["c1_holds"]]
    path = results_dir(p.results_root, p.profile, "box_shifting") / "c1.json"
    w = write_result(path, {"profile": p.profile, "seed": p.seed, "n_gt": p.bs_n_gt, "shifts_per_gt": p.bs_shifts_per_gt,
                            "rows": rows, "frac_c1_holds_std": frac_std, "frac_c1_holds_cv": frac_cv,
                            "settings_where_std_holds": holds_std, "provenance": provenance(), "seconds": time.time() - t0})
    return [(path, w), (claims_path(p, "box_shifting"), save_claims(p, "box_shifting", {"C1": claims.c1_claim(rows)}))]


def _table(p: Profile, name: str, rows) -> tuple[Path, bool]:
    path = results_dir(p.results_root, p.profile, "tables") / f"{name}.json"
    return path, write_result(path, {"profile": p.profile, "rows": rows, "provenance": provenance()})


def grid(p: Profile, tables: dict) -> list[tuple[Path, bool]]:
    """Table 1 and its claims."""
    results = runs_of(p, ex.grid_specs(p))
    rows = sm.summary_table(results)
    table, _ = claims.table1(rows, tables, p)
    measured = claims.grid_claims(rows, results, p, p.curve_window)
    return [(claims_path(p, "grid"), save_claims(p, "grid", measured)), _table(p, "table1", table)]


def gpu_records(p: Profile) -> list:
    return gpu_check.load_records(Path(p.results_root) / "gpu_check")


def bench_record(p: Profile, name: str) -> Optional[dict]:
    """``bench/<name>.json`` (a stored benchmark) or None."""
    f = results_dir(p.results_root, p.profile, "bench") / f"{name}.json"
    return read_json(f) if f.exists() else None


def alwa_part(p: Profile, tables: dict) -> list[tuple[Path, bool]]:
    """Tables 2-3 and their claims, C10 from the stored benchmarks and the latest GPU check."""
    results = runs_of(p, ex.alwa_specs(p))
    rows = sm.summary_table(results)
    table, _ = claims.alwa_table(rows, tables, p)
    measured = claims.alwa_claims(results, p)
    gpu = (gpu_records(p) or [None])[-1]
    measured["C10"] = claims.overhead_claim(bench_record(p, "train_step"), p.profile, gpu=gpu)
    return [(claims_path(p, "alwa"), save_claims(p, "alwa", measured)), _table(p, "tables23", table)]


def ablation(p: Profile, tables: dict) -> list[tuple[Path, bool]]:
    """Tables 7-8 and their claims."""
    results = runs_of(p, ex.ablation_specs(p))
    rows = sm.summary_table(results)
    table = claims.ablation_table(rows, tables, p, results)
    measured = claims.ablation_claims(results, p)
    return [(claims_path(p, "ablation"), save_claims(p, "ablation", measured)), _table(p, "tables78", table)]


def lr_study(p: Profile) -> list[tuple[Path, bool]]:
    """The learning-rate study's verdicts per regime (``claims/regimes.json``, after the flat claims it quotes) and its
    table file (``tables/lr_study.json``)."""
    runs = results_dir(p.results_root, p.profile, "runs")
    planned = p.profile in study.PLANS
    plan = study.plan_for(p.profile) if planned else study.StudyPlan()
    records = load_results(runs) if planned else []
    st, specs = study.study_specs(p, records) if planned else (study.StudyState(stage="not planned at this profile"), [])
    done = len(specs) - len(pending(specs, runs))
    eq = lrstudy.equivalence_table(records, p, plan)
    d = lrstudy.alwa_vs_control(records, p, plan, st)
    arms = lrstudy.arm_means(records, p, plan, st)
    verdicts = lrstudy.regime_claims(records, p, plan, st, load_claims(p.results_root, p.profile, FLAT_PARTS))
    context = {"stage": st.stage, "schedule": st.schedule, "converged": st.converged, "tuned_lr": st.tuned_lr,
               "runs_done": done, "runs_planned": len(specs)}
    path = results_dir(p.results_root, p.profile, "tables") / "lr_study.json"
    w = write_result(path, {"profile": p.profile, "state": st.as_dict(), "equivalence": eq, "alwa_vs_control": d,
                            "regime_claims": verdicts, "arms": [a.as_dict() for a in arms], "runs_done": done,
                            "runs_planned": len(specs), "provenance": provenance()})
    return [(claims_path(p, "regimes"), save_regime_claims(p, verdicts, context)), (path, w)]


def by_loss(p: Profile, tables: dict) -> list[tuple[Path, bool]]:
    """The settling study's verdicts per regression loss (``claims/by_loss.json``), where the profile plans it."""
    if p.profile not in settle.SETTLE_PLANS:
        return []
    out = results_dir(p.results_root, p.profile, "settle")
    records = load_results(out)
    st, specs = settle.decide(p, settle.settle_plan_for(p.profile), records)
    context = {"stage": st.stage, "runs_done": len(specs) - len(pending(specs, out)), "runs_planned": len(specs)}
    return [(claims_path(p, "by_loss"),
             save_loss_claims(p, settled.loss_claims(records, p, st, tables), context))]


FLAT_PARTS = ("box_shifting", "grid", "alwa", "ablation")


def build(p: Profile, source=".") -> list[tuple[Path, bool]]:
    """Write the whole store from the records (the flat parts first: the regime verdicts quote them). Returns every
    file with whether it was (re)written."""
    tables = paper_tables(source)
    return (box_shifting(p) + grid(p, tables) + alwa_part(p, tables) + ablation(p, tables) + lr_study(p)
            + by_loss(p, tables))
