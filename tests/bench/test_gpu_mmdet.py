"""alwa.bench.gpu_mmdet: the GPU check of ALWA inside mmdet (its sync guard; on a CPU without the sync checks)."""

import pytest
import torch

pytest.importorskip("mmdet")

import alwa.mmdet  # noqa: E402,F401
from alwa import ALWA  # noqa: E402


def _guarded(interval, set_mode):
    from alwa.bench.gpu_mmdet import SyncGuard
    from alwa.mmdet.hook import ALWALossWrapper

    modes_in_head = []

    def head_loss():
        modes_in_head.append(calls[-1] if calls else None)
        return {"loss_cls": torch.tensor(2.0), "loss_bbox": torch.tensor(1.0)}

    calls = []

    def recorder(mode):
        calls.append(mode)
        set_mode(mode)

    wrapper = ALWALossWrapper(head_loss, ALWA("alwa2", interval=interval), "alwa")
    return SyncGuard(wrapper, recorder), calls, modes_in_head


def test_sync_guard_checks_the_wrappers_own_work_and_lets_the_head_run_unguarded():
    guard, calls, in_head = _guarded(3, lambda m: None)
    for _ in range(6):
        guard()
    assert [m for m in calls if m != "default"] == ["warn"] * 12  # each call: its own part, and again after the head
    assert in_head == ["default"] * 6  # mmdet's own loss runs outside the guard
    assert calls[-1] == "default"
    assert guard.as_dict() == {"checked_calls": 4, "violations": 0, "window_ends": 2, "window_end_syncs": 0, "first_errors": []}


def test_sync_guard_records_where_a_sync_happened_and_never_runs_the_wrapper_twice(monkeypatch):
    import warnings

    state = {"mode": "default"}
    guard, _, in_head = _guarded(3, lambda m: state.update(mode=m))
    original = ALWA.__call__
    runs = []

    def syncing_call(self, cls, reg):
        runs.append(1)
        if state["mode"] == "warn":  # what torch does under set_sync_debug_mode("warn") at a synchronising op
            warnings.warn("called a synchronizing CUDA operation", UserWarning)
        return original(self, cls, reg)

    monkeypatch.setattr(ALWA, "__call__", syncing_call)
    out = guard()
    assert "loss_cls" in out and len(runs) == 1 and in_head == ["default"]  # one run of the wrapper, one of the head
    assert guard.violations == 1 and guard.checked == 1
    (err,) = guard.errors
    assert err["message"] == "called a synchronizing CUDA operation" and err["at"].endswith(
        f"test_gpu_mmdet.py:{syncing_call.__code__.co_firstlineno + 3}")
    assert any("alwa/mmdet/hook.py" in f for f in err["stack"]) and err["call"] == 1


@pytest.mark.slow
def test_the_mmdet_gpu_check_runs_on_a_cpu_without_its_sync_checks(tiny_voc):
    from alwa.bench import gpu_mmdet as gpu_check

    r = gpu_check.run(tiny_voc, device="cpu", blocks=2, steps=2)
    assert r["sync_check"] is None and r["passed"] is None and r["device"] == "cpu"
    assert r["alwa_calls"] == 4 and r["ratio_ci95"][0] <= r["ratio"] <= r["ratio_ci95"][1]
