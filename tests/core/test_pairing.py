"""alwa.core.pairing: runs pair only when their initial states agree (fingerprints, or the observed iteration-0 losses)."""
from alwa.core.pairing import pair_key, pairing


def rec(seed, cls0=1.14021, reg0=0.87324, weighting="base", w=(1.0, 1.0), fp=None, mAP=0.5):
    r = {"name": "x", "seed": seed, "mAP": mAP, "per_iter": {"cls_raw": [cls0, 1.0], "reg_raw": [reg0, 1.0]},
         "experiment": {"weighting": weighting, "cls_weight": w[0], "reg_weight": w[1]}}
    if fp:
        r["fingerprints"] = fp
    return r


FP = {"init_state": "a" * 16, "data": "d", "pretrained": "p", "first_batches": [["1", "2"]], "setting_version": "v1", "code": "c1"}


def test_fixed_weights_are_divided_out_of_the_observed_state():
    assert pair_key(rec(0)) == pair_key(rec(0, 0.570106, 0.43662, "fixed", (0.5, 0.5)))
    assert pair_key(rec(0)) != pair_key(rec(0, 1.13954))  # the 49 runs of 2026-12-02: another initial state


def test_fingerprints_decide_when_present_and_the_code_version_does_not():
    a, b = rec(0, fp=FP), rec(0, 9.9, 9.9, fp=dict(FP, code="c2"))
    assert pair_key(a) == pair_key(b)
    assert pair_key(a) != pair_key(rec(0, fp=dict(FP, init_state="b" * 16)))
    assert pair_key(a) != pair_key(rec(0, fp=dict(FP, setting_version="v2")))
    assert pair_key(a) != pair_key(rec(0, fp=dict(FP, first_batches=[["2", "1"]])))


def test_pairing_names_the_dropped_seeds():
    method = {0: rec(0), 1: rec(1, 1.2), 2: rec(2), 3: rec(3)}
    base = {0: rec(0), 1: rec(1, 1.3), 2: rec(2)}
    pr = pairing(method, base)
    assert pr.seeds == (0, 2) and pr.dropped == (1,) and "seeds [1]" in pr.note()
    assert pairing({0: {"per_iter": {}}}, {0: {"per_iter": {}}}).dropped == (0,)  # unknown state: never paired


def test_runs_from_two_pretrained_backbones_are_named_with_their_counts():
    from alwa.core.pairing import backbones_note

    def run(h):
        return {"fingerprints": {"init_state": "x", "pretrained": h}}

    assert backbones_note([run("744f2c937d1a4a20")] * 3 + [{"mAP": 0.5}]) == ""  # one backbone; no fingerprints: unknown
    note = backbones_note([run("744f2c937d1a4a20")] * 3 + [run("1eed8effc707cf77")])
    assert note.startswith("these runs started from 2 different pre-trained backbones (744f2c93: 3 runs, 1eed8eff: 1 run;")
    assert note.endswith("a run pairs only with runs made from the same one")


def test_a_record_whose_initial_state_cannot_be_told_does_not_pair_and_raises_nothing():
    """An older record whose first raw loss is None, or a fixed-weight record with a weight that is not a number,
    ended in a TypeError/ValueError deep in the analysis; such a seed now simply does not pair (counted as dropped)."""
    from alwa.core.pairing import pair_key, pairing

    good = {"per_iter": {"cls_raw": [1.0], "reg_raw": [0.5]}, "experiment": {"weighting": "base"}}
    none_loss = {"per_iter": {"cls_raw": [None], "reg_raw": [0.5]}, "experiment": {"weighting": "base"}}
    bad_weight = {"per_iter": {"cls_raw": [0.5], "reg_raw": [0.5]}, "experiment": {"weighting": "fixed", "cls_weight": "abc"}}
    assert pair_key(none_loss) is None and pair_key(bad_weight) is None
    pr = pairing({0: none_loss, 1: bad_weight, 2: good}, {0: good, 1: good, 2: good})
    assert pr.seeds == (2,) and pr.dropped == (0, 1)
