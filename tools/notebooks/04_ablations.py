import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import PARAMS, SETUP  # noqa: E402

CELLS = [
    ("md", r"""
# Ablations: the update interval C and the initial weight (tables 7 and 8; claim C9)

Faster R-CNN with ALWA-2 in the RPN, varying C (the number of iterations per statistics
window) and the initial weights (equal for both tasks), as in the paper's tables 7 and 8.
At mini scale a run has far fewer iterations than the paper's (about 25 700), so C = 500
means very few windows, and none in a run shorter than 500 iterations (ALWA then never
acts and the run is the baseline): the table says how many each run had.
"""),
    ("params", PARAMS),
    ("code", SETUP),
    ("code", """
specs = ex.ablation_specs(p)
results, failures = nbh.run_and_load(specs, p, desc="tables 7-8")
rows = ex.summary_table(results, ex.baseline_name)
"""),
    ("md", "## Tables 7 and 8 (mAP, points; difference to the 1:1 baseline without ALWA on the same seeds)"),
    ("code", """
table = claims.ablation_table(rows, tables, p)
windows = {r["name"]: len(r["windows"]) for r in results}
for row in table:
    suffix = ("" if int(row["value"]) == 100 else f"_C{int(row['value'])}") if row["ablation"] == "C" else (
        "" if float(row["value"]) == 1.0 else f"_init{float(row['value']):g}")
    row["windows per run"] = windows.get(ex.exp_name(p, "faster-rcnn", {"L1": "l1", "SmoothL1": "smoothl1", "CIoU": "ciou"}[row["loss"]], "alwa2", suffix))
pd.DataFrame(table)
"""),
    ("code", """
measured = claims.ablation_claims(results, p)
nbh.save_claims(p, "ablation", measured)
write_json_atomic(results_dir(results_root, profile, "tables") / "tables78.json", {"profile": profile, "rows": table, "provenance": provenance()})
glue("abl_runs", len(results), display=False)
pd.DataFrame([{"claim": k, "ours": v["ours"], "status": v["status"]} for k, v in measured.items()])
"""),
]
