# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Loss-weight grid (table 1, figure 3; claims C2-C5)
#
# > **Caveat.** On the short schedule of these runs a classification weight below 1 is also a smaller step on
# > a run that has not converged; [Loss weight or learning rate?](05_lr_study.ipynb) separates the two.
#
# The paper trains RetinaNet with fixed classification:regression weights (1:1 and ten other
# pairs) for L1, SmoothL1 and CIoU, and reads three "conclusions" from table 1 and figure 3:
# the best weights make the classification loss curve decay faster than the regression one (C2),
# weights below 1 beat weights above 1 (C3), the gap between the two weights should not be too
# large (C4), and the best pair differs between regression losses (C5).
#
# We run the same grid through the same mmdet code path at the profile's scale, several seeds
# each, and compare every pair with 1:1 **on the same seeds** (paired differences, 95 % CI from
# `scipy.stats.ttest_rel`). The paper reports one run per cell, without error bars.
#
# **Reading the mini-scale numbers.** With SGD, multiplying a loss by a weight multiplies its
# gradients by the same factor, so a weight below 1 also lowers the effective learning rate of
# what that loss trains. The paper's detectors are trained to convergence, where that matters
# little; the mini runs stop far from it (see [the tuning page](../generated/tuning.md)), where
# a lower effective learning rate alone can cost mAP. One pair of runs on the tuning page
# ("effective learning rate") checks it: 0.5:0.5 with the learning rate doubled recovers most,
# not all, of what 0.5:0.5 loses against 1:1. Read differences from the paper's table with that
# in mind.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"  # smoke | cpu | gpu
params_file = None  # the profile's parameters; None: notebooks/params/{profile}.yaml
results_root = "results"
max_runs = None  # the book build's cap on training runs (notebooks start none)
overrides = {}  # parameters of the profile to change, e.g. {"retina_seeds": 2}

# %% tags=["remove-input"]
# %matplotlib inline
from myst_nb import glue

from alwa.analysis import claims, summaries as sm
from alwa.report import notebook as nbh, plots, store
from alwa.runs import specs as ex

# checked: unknown keys and parameters fail here
nb = nbh.setup(
    profile, params_file, results_root, max_runs, overrides
)
p, label, figs, tables = nb.params, nb.label, nb.figures, nb.paper
profile, results_root = nb.profile, nb.results_root

# %%
specs = ex.grid_specs(p)
results, failures = nbh.load_part(
    specs, p, desc="table 1 grid"
)
pairs = ["1.00:1.00", *(p.grid_pairs or ex.TABLE1_PAIRS)]

# %% [markdown]
# ## Table 1: mAP per weight pair, and the difference to 1:1 (points of mAP)

# %%
rows = sm.summary_table(results)
table, plot_rows = claims.table1(rows, tables, p)
nbh.table(table, digits=2)

# %%
fig = plots.plot_vs_paper(
    plot_rows,
    f"Table 1, {label}: difference to 1:1",
    path=figs / "table1_diffs.png",
)

# %% [markdown]
# ## Figure 3: mean and standard deviation of the weighted losses per window

# %%
for loss in p.grid_losses:
    experiments = [
        ex.experiment_of(p, "retinanet", loss, "base")
    ] + claims.best_experiments(rows, p, loss, 3)
    fig = plots.plot_curves(
        results,
        experiments,
        p.curve_window,
        f"{ex.LOSS_NAMES[loss]}: 1:1 and the best pairs"
        f" ({label})",
        path=figs / f"figure3_{loss}.png",
    )

# %% [markdown]
# ## The claims, measured

# %% tags=["hide-input"]
# the claim store `alwa claims` wrote
measured = store.load_claims(results_root, profile, ["grid"])
nbh.claims_table(measured)

# %% tags=["remove-input"]
glue("grid_runs", len(results), display=False)
glue("grid_failed", len(failures), display=False)
print(f"{label}: {len(results)} runs, {len(failures)} failed")
