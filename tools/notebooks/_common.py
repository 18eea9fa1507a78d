"""Cells shared by the training notebooks (02-04)."""

PARAMS = """
profile = "cpu"
seed = 0
results_root = "results"
work_root = "work_dirs"
workers = 2
threads = 1
devices = None
max_runs = None
data = "mini"
backbone = "r18w16"
data_dir = "data/mini_voc"
data_root = None
dataset = {}
pretrain = {}
setting = {}
faster_setting = {}
paper = {}
curve_window = 50
grid_losses = ["l1", "smoothl1", "ciou"]
grid_pairs = []
grid_seeds = 3
alwa_losses = ["l1", "smoothl1", "ciou"]
retina_seeds = 5
faster_seeds = 3
abl_losses = ["l1", "smoothl1", "ciou"]
abl_C = [20, 100, 200, 500]
abl_init = [0.5, 0.75, 1.25, 1.5]
abl_seeds = 3
bench_blocks = 20
bench_steps = 10
"""

SETUP = """
%matplotlib inline
import math
import matplotlib
import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

from alwa import claims, experiments as ex, notebook as nbh
from alwa.results import provenance, results_dir, write_json_atomic

p = {k: v for k, v in dict(globals()).items() if k in ex.PROFILE_KEYS}
label = nbh.profile_label(profile)
figs = results_dir(results_root, profile, "figures")
tables = nbh.paper_tables()
pd.set_option("display.width", 200)
display(Markdown(f"**{label}** — results in `{results_root}/{profile}`"))
"""
