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
# # Ablations: the update interval C and the initial weight (tables 7 and 8; claim C9)
#
# > **Caveat.** On the short schedule of these runs a classification weight below 1 is also a smaller step on
# > a run that has not converged; [Loss weight or learning rate?](05_lr_study.ipynb) separates the two.
#
# Faster R-CNN with ALWA-2 in the RPN, varying C (the number of iterations per statistics
# window) and the initial weights (equal for both tasks), as in the paper's tables 7 and 8.
# At mini scale a run has far fewer iterations than the paper's (about 25 700), so C = 500
# means very few windows, and none in a run shorter than 500 iterations (ALWA then never
# acts and the run is the baseline): the table says how many each run had.

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
from alwa.report import notebook as nbh, store
from alwa.runs import specs as ex

# checked: unknown keys and parameters fail here
nb = nbh.setup(
    profile, params_file, results_root, max_runs, overrides
)
p, label, figs, tables = nb.params, nb.label, nb.figures, nb.paper
profile, results_root = nb.profile, nb.results_root

# %%
specs = ex.ablation_specs(p)
results, failures = nbh.load_part(specs, p, desc="tables 7-8")
rows = sm.summary_table(results)

# %% [markdown]
# ## Tables 7 and 8 (mAP, points; difference to the 1:1 baseline without ALWA on the same seeds)

# %%
table = claims.ablation_table(rows, tables, p, results)
nbh.table(table, digits=2)

# %% tags=["remove-input"]
# the claim store `alwa claims` wrote
measured = store.load_claims(
    results_root, profile, ["ablation"]
)
glue("abl_runs", len(results), display=False)
nbh.claims_table(measured)
