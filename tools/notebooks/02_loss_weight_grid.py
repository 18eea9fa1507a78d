import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import PARAMS, SETUP  # noqa: E402

CELLS = [
    ("md", r"""
# Loss-weight grid (table 1, figure 3; claims C2-C5)

The paper trains RetinaNet with fixed classification:regression weights (1:1 and ten other
pairs) for L1, SmoothL1 and CIoU, and reads three "conclusions" from table 1 and figure 3:
the best weights make the classification loss curve decay faster than the regression one (C2),
weights below 1 beat weights above 1 (C3), the gap between the two weights should not be too
large (C4), and the best pair differs between regression losses (C5).

We run the same grid through the same mmdet code path at the profile's scale, several seeds
each, and compare every pair with 1:1 **on the same seeds** (paired differences, 95 % CI from
`scipy.stats.ttest_rel`). The paper reports one run per cell, without error bars.

**Reading the mini-scale numbers.** With SGD, multiplying a loss by a weight multiplies its
gradients by the same factor, so a weight below 1 also lowers the effective learning rate of
what that loss trains. The paper's detectors are trained to convergence, where that matters
little; the mini runs stop far from it (see [the tuning page](../generated/tuning.md)), where
a lower effective learning rate alone can cost mAP. One pair of runs on the tuning page
("effective learning rate") checks it: 0.5:0.5 with the learning rate doubled recovers most,
not all, of what 0.5:0.5 loses against 1:1. Read differences from the paper's table with that
in mind.
"""),
    ("params", PARAMS),
    ("code", SETUP),
    ("code", """
specs = ex.grid_specs(p)
results, failures = nbh.run_and_load(specs, p, desc="table 1 grid")
pairs = ["1.00:1.00", *(p["grid_pairs"] or ex.TABLE1_PAIRS)]
"""),
    ("md", "## Table 1: mAP per weight pair, and the difference to 1:1 (points of mAP)"),
    ("code", """
rows = ex.summary_table(results, ex.baseline_name)
table, plot_rows = claims.table1(rows, tables, p)
pd.DataFrame(table)
"""),
    ("code", """
fig = nbh.plot_vs_paper(plot_rows, f"Table 1, {label}: difference to 1:1", path=figs / "table1_diffs.png")
"""),
    ("md", "## Figure 3: mean and standard deviation of the weighted losses per window"),
    ("code", """
for loss in p["grid_losses"]:
    names = [ex.exp_name(p, "retinanet", loss, "base")] + claims.best_names(rows, p, loss, 3)
    fig = nbh.plot_curves(results, names, curve_window, f"{ex.LOSS_NAMES[loss]}: 1:1 and the best pairs ({label})",
                          path=figs / f"figure3_{loss}.png")
"""),
    ("md", "## The claims, measured"),
    ("code", """
measured = claims.grid_claims(rows, results, p, curve_window)
nbh.save_claims(p, "grid", measured)
pd.DataFrame([{"claim": k, "ours": v["ours"], "status": v["status"]} for k, v in measured.items()])
"""),
    ("code", """
glue("grid_runs", len(results), display=False)
glue("grid_failed", len(failures), display=False)
write_json_atomic(results_dir(results_root, profile, "tables") / "table1.json", {"profile": profile, "rows": table, "provenance": provenance()})
print(f"{label}: {len(results)} runs, {len(failures)} failed")
"""),
]
