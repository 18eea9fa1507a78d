"""Tests of alwa.ALWA: hand-computed windows, the authors' reference, named
properties, errors, non-finite input, state round trips and sync freedom."""

import io
import math
import warnings

import numpy as np
import pytest
import torch

from alwa import ALWA
from reference import AuthorsReference

SQ2 = math.sqrt(2.0)


def feed(w, cls_vals, reg_vals, dtype=torch.float64):
    out = []
    for c, r in zip(cls_vals, reg_vals):
        out.append(w(torch.tensor(c, dtype=dtype), torch.tensor(r, dtype=dtype)))
    return out


# ---------------------------------------------------------------- hand-computed
def test_alwa2_hand_computed_two_windows():
    w = ALWA(mode="alwa2", interval=2)
    feed(w, [1.0, 3.0], [1.0, 2.0])
    # std(1,3) = sqrt2, std(1,2) = sqrt2/2 -> 1 - (sqrt2 - sqrt2/2)/sqrt2 = 0.5
    assert w.cls_weight == pytest.approx(0.5, abs=1e-15)
    assert w.reg_weight == 1.0
    # weighted cls: 0.5*(2, 6) = (1, 3) -> std sqrt2; reg (1, 1.5) -> std sqrt2/4
    feed(w, [2.0, 6.0], [1.0, 1.5])
    assert w.cls_weight == pytest.approx(0.25, abs=1e-15)


def test_alwa1_hand_computed():
    w = ALWA(mode="alwa1", interval=2)
    feed(w, [1.0, 3.0], [1.0, 2.0])
    cls = 2.0 + SQ2
    reg = 1.5 + SQ2 / 2
    assert w.cls_weight == pytest.approx(1 - (cls - reg) / cls, abs=1e-15)
    assert w.cls_weight == pytest.approx(reg / cls, abs=1e-15)


def test_weight_kept_when_cls_not_larger():
    w = ALWA(mode="alwa2", interval=3)
    feed(w, [1.0, 1.1, 1.2], [0.0, 5.0, 10.0])
    assert w.cls_weight == 1.0
    assert w.history[-1].updated is False


def test_update_applies_from_next_call_only():
    w = ALWA(mode="alwa2", interval=2)
    outs = feed(w, [1.0, 3.0, 1.0], [1.0, 2.0, 1.0])
    assert [float(c) for c, _ in outs] == [1.0, 3.0, 0.5]


def test_replaced_weight_is_not_cumulative_and_can_return_towards_one():
    """The authors' rule recomputes the weight from weighted losses, so when the
    weighted classification std falls to about the regression std, the weight
    goes back up (the oscillation described in official-implementation.md)."""
    w = ALWA(mode="alwa2", interval=2)
    feed(w, [1.0, 3.0], [1.0, 2.0])  # -> 0.5
    feed(w, [1.0, 3.0], [1.0, 1.9])  # weighted std sqrt2/2 vs 0.9*sqrt2/2 -> 0.9
    assert w.cls_weight == pytest.approx(0.9, abs=1e-12)
    m = ALWA(mode="alwa2", interval=2, update="multiplicative")
    feed(m, [1.0, 3.0], [1.0, 2.0])
    feed(m, [1.0, 3.0], [1.0, 1.9])
    assert m.cls_weight == pytest.approx(0.5 * 0.9, abs=1e-12)


def test_record_raw_uses_unweighted_statistics():
    w = ALWA(mode="alwa2", interval=2, record="raw")
    feed(w, [1.0, 3.0], [1.0, 2.0])  # 0.5
    feed(w, [2.0, 6.0], [1.0, 2.0])  # raw std 2*sqrt2 vs sqrt2/2 -> 0.25
    assert w.cls_weight == pytest.approx(0.25, abs=1e-15)
    assert w.history[-1].cls_std == pytest.approx(2 * SQ2)


def test_monitor_mode_records_but_never_updates():
    w = ALWA(mode="monitor", interval=2, cls_weight=0.5, reg_weight=0.75)
    feed(w, [1.0, 3.0, 5.0, 9.0], [1.0, 1.0, 1.0, 2.0])
    assert w.weights == (0.5, 0.75)
    assert len(w.history) == 2
    h = w.history[0]
    assert (h.cls_mean, h.raw_cls_mean) == (pytest.approx(1.0), pytest.approx(2.0))
    assert h.cls_std == pytest.approx(0.5 * SQ2)
    assert h.reg_std == 0.0


# ---------------------------------------------------------------- reference
@pytest.mark.parametrize("mode", ["alwa1", "alwa2"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_authors_reference_on_random_streams(mode, seed):
    rng = np.random.default_rng(seed)
    C, n_iter, levels = int(rng.integers(2, 30)), 400, 5
    init = float(rng.choice([0.5, 1.0, 1.5]))
    ref = AuthorsReference(mode=mode, C=C, cls_weight=init)
    w = ALWA(mode=mode, interval=C, cls_weight=init)
    decay = np.exp(-np.arange(n_iter) / 150)
    traj = []
    for i in range(n_iter):
        cls = list(rng.gamma(2.0, 0.3 * decay[i] + 0.05, levels))
        reg = list(rng.gamma(4.0, 0.05 * decay[i] + 0.02, levels))
        rc, rr = ref.step(cls, reg)
        oc, orr = w([torch.tensor(v, dtype=torch.float64) for v in cls], [torch.tensor(v, dtype=torch.float64) for v in reg])
        assert len(oc) == levels and len(orr) == levels
        np.testing.assert_allclose([float(t) for t in oc], rc, rtol=0, atol=1e-12)
        np.testing.assert_allclose([float(t) for t in orr], rr, rtol=0, atol=1e-12)
        if (i + 1) % C == 0:
            traj.append(w.cls_weight)
    assert len(traj) == len(ref.trajectory) == n_iter // C
    np.testing.assert_allclose(traj, ref.trajectory, rtol=0, atol=1e-12)
    assert any(t != init for t in traj)


# ---------------------------------------------------------------- properties
def random_stream(seed, n=240):
    g = torch.Generator().manual_seed(seed)
    cls = torch.rand(n, 3, generator=g, dtype=torch.float64) * torch.linspace(2, 0.2, n, dtype=torch.float64)[:, None]
    reg = torch.rand(n, 3, generator=g, dtype=torch.float64) * 0.3 + 0.1
    return cls, reg


def run(w, cls, reg):
    traj = []
    for c, r in zip(cls, reg):
        w(list(c.unbind()), list(r.unbind()))
        traj.append(w.cls_weight)
    return np.array(traj)


@pytest.mark.parametrize("mode", ["alwa1", "alwa2"])
@pytest.mark.parametrize("factor", [0.01, 3.0, 250.0])
def test_scale_invariance_same_factor_on_both_losses(mode, factor):
    cls, reg = random_stream(1)
    a = run(ALWA(mode, interval=20), cls, reg)
    b = run(ALWA(mode, interval=20), cls * factor, reg * factor)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_alwa2_ignores_constant_added_to_a_loss_alwa1_does_not():
    cls, reg = random_stream(2)
    base2 = run(ALWA("alwa2", interval=20), cls, reg)
    shifted2 = run(ALWA("alwa2", interval=20), cls + 0.7 / 3, reg + 0.4 / 3)  # +0.7, +0.4 per call sum
    np.testing.assert_allclose(base2, shifted2, rtol=1e-9)
    base1 = run(ALWA("alwa1", interval=20), cls, reg)
    shifted1 = run(ALWA("alwa1", interval=20), cls + 0.7 / 3, reg + 0.4 / 3)
    assert np.max(np.abs(base1 - shifted1)) > 1e-3


@pytest.mark.parametrize("mode", ["alwa1", "alwa2"])
@pytest.mark.parametrize("init", [0.5, 1.0, 1.5, 2.0])
@pytest.mark.parametrize("seed", [3, 4])
def test_weights_stay_positive_and_bounded(mode, init, seed):
    """Replace rule: an updated weight is REG/CLS < 1, so weights stay in
    (0, max(init, 1)], i.e. (0, init] for init >= 1. With init < 1 the authors'
    rule can raise the weight above its initial value (documented in the book).
    Multiplicative rule: (0, init] and never increasing."""
    cls, reg = random_stream(seed, n=400)
    t = run(ALWA(mode, interval=10, cls_weight=init), cls, reg)
    assert np.all(t > 0) and np.all(t <= max(init, 1.0)) and np.all(np.isfinite(t))
    m = run(ALWA(mode, interval=10, cls_weight=init, update="multiplicative"), cls, reg)
    assert np.all(m > 0) and np.all(m <= init) and np.all(np.diff(m) <= 0)


def test_gradient_is_weight_times_raw_gradient():
    w = ALWA("alwa2", interval=2, cls_weight=0.3, reg_weight=0.7)
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    cls_levels = [(x**2).sum(), x.sum()]
    reg_levels = [(3 * x).sum(), x[0] * 1.0]
    oc, orr = w(cls_levels, reg_levels)
    (sum(oc) + sum(orr)).backward()
    raw = 0.3 * (2 * x.detach() + 1) + 0.7 * (3 + torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(x.grad, raw)


def test_weight_of_one_returns_the_loss_itself():
    """Identity at weight 1: the same tensor comes back (no extra op); other weights give a new, scaled one."""
    w = ALWA("alwa2", interval=10, cls_weight=0.5)
    tc, tr = torch.tensor(2.0), torch.tensor(3.0)
    c, r = w(tc, tr)
    assert r is tr and c is not tc and c.item() == 1.0
    levels = [torch.tensor(1.0), torch.tensor(4.0)]
    oc, orr = w(levels, levels)
    assert orr is not levels and all(a is b for a, b in zip(orr, levels))  # a new list of the same tensors


def test_number_of_levels_may_change_within_a_window():
    """Sums per call are what is recorded: (1+2, 0.5+0.5) then (5, 1.5) -> cls mean 4, std sqrt2; reg mean 1.25."""
    w = ALWA("monitor", interval=2)
    w([torch.tensor(1.0), torch.tensor(2.0)], [torch.tensor(0.5), torch.tensor(0.5)])
    w([torch.tensor(5.0)], [torch.tensor(1.5)])
    h = w.history[0]
    assert (h.n, h.cls_mean, h.reg_mean) == (2, 4.0, 1.25)
    assert h.cls_std == pytest.approx(math.sqrt(2), abs=1e-15) and h.reg_std == pytest.approx(math.sqrt(2) / 4, abs=1e-15)


def test_tensor_in_tensor_out_and_tuple_in_list_out():
    w = ALWA()
    c, r = w(torch.tensor(1.0), torch.tensor(2.0))
    assert isinstance(c, torch.Tensor) and c.dim() == 0
    oc, orr = w((torch.tensor(1.0), torch.tensor(1.0)), (torch.tensor(1.0), torch.tensor(1.0)))
    assert isinstance(oc, list) and len(oc) == 2 and len(orr) == 2


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(mode="alwa3"), ValueError, "unknown mode"),
        (dict(interval=1), ValueError, "interval must be >= 2"),
        (dict(interval=2.5), TypeError, "interval must be an int"),
        (dict(cls_weight=0.0), ValueError, "cls_weight must be finite and > 0"),
        (dict(reg_weight=-1.0), ValueError, "reg_weight must be finite and > 0"),
        (dict(cls_weight=float("nan")), ValueError, "cls_weight"),
        (dict(reg_weight=float("inf")), ValueError, "reg_weight"),
        (dict(record="both"), ValueError, "unknown record"),
        (dict(update="cumulative"), ValueError, "unknown update"),
    ],
)
def test_bad_options_give_clear_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ALWA(**kwargs)


def test_bad_inputs_give_clear_errors():
    w = ALWA()
    one = torch.tensor(1.0)
    with pytest.raises(ValueError, match=r"cls_loss must be a single-element loss \(0-d, or shape \(1,\).*got shape \(2,\)"):
        w(torch.ones(2), one)
    with pytest.raises(ValueError, match=r"reg_loss\[1\] must be a single-element loss"):
        w([one, one], [one, torch.ones(2, 1)])
    with pytest.raises(TypeError, match="cls_loss must be a 0-d tensor or a list"):
        w(1.0, one)
    with pytest.raises(ValueError, match="empty list"):
        w([], [])
    with pytest.raises(TypeError, match="floating-point"):
        w(torch.tensor(1), one)
    assert w.calls == 0  # nothing recorded by a rejected call


# ---------------------------------------------------------------- non-finite
def test_nonfinite_losses_not_recorded_counted_warned_once():
    w = ALWA("alwa2", interval=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        feed(w, [1.0, float("nan"), 3.0, float("inf")], [1.0, 1.5, 2.0, 1.0])
        feed(w, [1.0, float("nan"), 3.0, 2.0], [1.0, 1.5, 2.0, 1.0])
    msgs = [c for c in caught if issubclass(c.category, RuntimeWarning) and "non-finite" in str(c.message)]
    assert len(msgs) == 1
    assert w.nonfinite == 3
    assert math.isfinite(w.cls_weight) and 0 < w.cls_weight <= 1
    # first window: cls (1, 3) -> std sqrt2; reg (1, 1.5, 2, 1) -> std 0.4787
    reg_std = float(np.std([1.0, 1.5, 2.0, 1.0], ddof=1))
    assert w.history[0].cls_weight == pytest.approx(reg_std / SQ2, rel=1e-12)


def test_all_nonfinite_or_zero_std_window_leaves_weights_unchanged():
    w = ALWA("alwa2", interval=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        feed(w, [float("nan")] * 3, [1.0, 2.0, 3.0])
    assert w.cls_weight == 1.0
    feed(w, [2.0, 2.0, 2.0], [1.0, 2.0, 3.0])  # CLS = 0
    assert w.cls_weight == 1.0
    feed(w, [1.0, 2.0, 3.0], [2.0, 2.0, 2.0])  # REG = 0: undefined ratio -> unchanged
    assert w.cls_weight == 1.0
    assert not any(h.updated for h in w.history)


# ---------------------------------------------------------------- state
@pytest.mark.parametrize("mode", ["alwa1", "alwa2", "alwa2-detrended"])
@pytest.mark.parametrize("cut", [1, 19, 20, 21, 57, 199])
def test_resume_mid_window_is_bit_identical(mode, cut):
    mode, _, stat = mode.partition("-")
    stat = stat or "std"
    g = torch.Generator().manual_seed(7)
    cls = torch.rand(260, 5, generator=g) * torch.linspace(3, 0.3, 260)[:, None]
    reg = torch.rand(260, 5, generator=g) * 0.4 + 0.2
    full = ALWA(mode, interval=20, cls_weight=1.25, record="weighted", stat=stat)
    ref_traj = [full(list(c.unbind()), list(r.unbind())) and full.cls_weight for c, r in zip(cls, reg)]

    a = ALWA(mode, interval=20, cls_weight=1.25, stat=stat)
    traj = [a(list(c.unbind()), list(r.unbind())) and a.cls_weight for c, r in zip(cls[:cut], reg[:cut])]
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)  # plain data: loads under the safe loader
    b = ALWA.from_state_dict(state)  # the state carries its options
    assert (b.mode, b.interval, b.initial_cls_weight) == (mode, 20, 1.25)
    traj += [b(list(c.unbind()), list(r.unbind())) and b.cls_weight for c, r in zip(cls[cut:], reg[cut:])]
    assert traj == ref_traj  # exact equality, not approximate
    assert [h.as_dict() for h in b.history] == [h.as_dict() for h in full.history]


def test_load_state_dict_rejects_foreign_dicts():
    with pytest.raises(KeyError, match="not an ALWA state dict"):
        ALWA().load_state_dict({"cls_weight": 1.0})


def test_reset_restores_initial_state():
    w = ALWA("alwa2", interval=2, cls_weight=1.5)
    feed(w, [1.0, 3.0, 2.0], [1.0, 2.0, 2.0])
    w.reset()
    assert w.weights == (1.5, 1.0) and w.calls == 0 and w.history == []


# ---------------------------------------------------------------- sync freedom
class SyncSpy(torch.Tensor):
    """A tensor subclass counting the operations that would synchronise host
    and device on a GPU (reading values back to Python or to the CPU)."""

    syncs = 0
    SYNCING = {"item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__", "__len__"}

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in cls.SYNCING:
            SyncSpy.syncs += 1
        out = super().__torch_function__(func, types, args, kwargs or {})
        if name == "cpu":  # the data is now on the host: reading it is free
            out = out.as_subclass(torch.Tensor)
        return out


def test_no_host_device_sync_except_one_per_window_end():
    w = ALWA("alwa2", interval=10)
    SyncSpy.syncs = 0
    g = torch.Generator().manual_seed(0)
    per_call = []
    for i in range(35):
        cls = [torch.rand((), generator=g).as_subclass(SyncSpy) for _ in range(5)]
        reg = [torch.rand((), generator=g).as_subclass(SyncSpy) for _ in range(5)]
        before = SyncSpy.syncs
        w(cls, reg)
        per_call.append(SyncSpy.syncs - before)
    ends = {9, 19, 29}
    assert all(n == 0 for i, n in enumerate(per_call) if i not in ends), per_call
    assert all(n <= 1 for i, n in enumerate(per_call) if i in ends), per_call
    assert len(w.history) == 3


# ---------------------------------------------------------------- the trend-free window statistic (stat="detrended")
def test_detrended_hand_computed_values():
    """cls falls on a straight line (4, 3, 2, 1): its std is sqrt(5/3) = 1.291, but around its line it is 0,
    so plain ALWA-2 cuts the weight to std(reg)/std(cls) and the detrended one keeps it.
    reg (1, 2, 1, 2): line slope 0.2, residuals (-0.2, 0.6, -0.6, 0.2), sqrt(0.8 / 2) = 0.632456."""
    from alwa.core.weighter import detrended_std

    t = torch.arange(4, dtype=torch.float64)
    assert detrended_std(torch.tensor([4.0, 3, 2, 1], dtype=torch.float64), t) == pytest.approx(0.0, abs=1e-15)
    assert detrended_std(torch.tensor([1.0, 2, 1, 2], dtype=torch.float64), t) == pytest.approx(math.sqrt(0.4), abs=1e-15)
    plain, detr = ALWA("alwa2", interval=4), ALWA("alwa2", interval=4, stat="detrended")
    for w in (plain, detr):
        feed(w, [4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 1.0, 2.0])
    assert plain.cls_weight == pytest.approx(math.sqrt(1 / 3) / math.sqrt(5 / 3), abs=1e-12)  # std(reg) / std(cls)
    assert detr.cls_weight == 1.0 and detr.history[0].cls_stat == pytest.approx(0.0, abs=1e-15)
    # (1, 3, 1, 3): residuals (-0.4, 1.2, -1.2, 0.4), sqrt(3.2 / 2) = 1.264911 = 2 x reg's -> weight 0.5
    feed(detr, [1.0, 3.0, 1.0, 3.0], [1.0, 2.0, 1.0, 2.0])
    assert detr.history[1].cls_stat == pytest.approx(math.sqrt(1.6), abs=1e-12)
    assert detr.cls_weight == pytest.approx(0.5, abs=1e-12)
    # the plain std of the window is still recorded (figures), only the compared statistic differs
    assert detr.history[1].cls_std == pytest.approx(float(torch.tensor([1.0, 3, 1, 3]).std()), abs=1e-6)


def test_detrended_alwa1_compares_mean_plus_residual_std():
    w = ALWA("alwa1", interval=4, stat="detrended")
    feed(w, [1.0, 3.0, 1.0, 3.0], [1.0, 2.0, 1.0, 2.0])
    cls_stat, reg_stat = 2.0 + math.sqrt(1.6), 1.5 + math.sqrt(0.4)
    assert w.history[0].cls_stat == pytest.approx(cls_stat) and w.history[0].reg_stat == pytest.approx(reg_stat)
    assert w.cls_weight == pytest.approx(reg_stat / cls_stat)


def test_detrended_ignores_a_linear_trend_added_to_a_loss():
    """Adding a straight line to the classification loss changes the plain std, not the detrended one."""
    g = torch.Generator().manual_seed(3)
    cls, reg = torch.rand(40, generator=g) + 1, torch.rand(40, generator=g) * 0.2 + 0.5
    trend = torch.linspace(2.0, 0.0, 40)
    runs = {}
    for stat in ("std", "detrended"):
        for name, c in (("flat", cls), ("trend", cls + trend)):
            w = ALWA("alwa2", interval=20, stat=stat)
            feed(w, c.tolist(), reg.tolist())
            runs[stat, name] = [h.cls_stat for h in w.history]
    assert runs["detrended", "flat"] == pytest.approx(runs["detrended", "trend"], rel=1e-6)  # float32 inputs
    assert runs["std", "flat"][0] != pytest.approx(runs["std", "trend"][0], rel=1e-3)


def test_detrended_needs_three_calls_a_window():
    with pytest.raises(ValueError, match="interval >= 3"):
        ALWA(interval=2, stat="detrended")
    with pytest.raises(ValueError, match="unknown stat"):
        ALWA(stat="mad")


# ---------------------------------------------------------------- state under bad input (issue 17, weighter state)
def _used(**kw):
    w = ALWA("alwa2", interval=4, **kw)
    feed(w, [4.0, 3.0, 2.0, 1.0, 2.0, 1.0], [1.0, 2.0, 1.0, 2.0, 1.0, 1.5])
    return w


@pytest.mark.parametrize("break_it, match", [
    (lambda s: s.update(window=torch.zeros(4, 2, dtype=torch.float64)), "window ends at 4"),
    (lambda s: s.update(window=torch.zeros(3, 2, dtype=torch.float64), calls=2), "more than the 2 calls"),
    (lambda s: s.update(calls=-1), "calls must be an int >= 0"),
    (lambda s: s.update(nonfinite=-3), "nonfinite must be an int >= 0"),
    (lambda s: s.update(cls_weight=0.0), "cls_weight must be finite and > 0"),
    (lambda s: s.update(history=[{"call": 4}]), "history entry"),
    (lambda s: s.update(window="abc"), "window is not"),
    (lambda s: s.pop("calls"), "missing"),
])
def test_a_failed_load_leaves_the_weighter_as_it_was(break_it, match):
    live = _used()
    before = live.state_dict()
    bad = _used().state_dict()
    break_it(bad)
    with pytest.raises((ValueError, KeyError, TypeError), match=match):
        live.load_state_dict(bad)
    after = live.state_dict()
    assert after["calls"] == before["calls"] == 6 and after["history"] == before["history"]
    assert torch.equal(after["window"], before["window"]) and after["cls_weight"] == before["cls_weight"]
    with pytest.raises((ValueError, KeyError, TypeError), match=match):
        ALWA.from_state_dict(bad)


@pytest.mark.parametrize("option, value", [("mode", "alwa1"), ("interval", 5), ("record", "raw"), ("update", "multiplicative"),
                                           ("stat", "detrended")])
def test_loading_a_state_of_other_options_is_an_error_unless_asked_for(option, value):
    saved = ALWA(**{"mode": "alwa2", "interval": 4, option: value})
    feed(saved, [1.0, 3.0], [1.0, 2.0])
    here = ALWA("alwa2", interval=4)
    with pytest.raises(ValueError, match=rf"{option}={value!r} in the state"):
        here.load_state_dict(saved.state_dict())
    assert here.calls == 0
    taken = ALWA.from_state_dict(saved.state_dict())
    assert getattr(taken, option) == value and taken.calls == 2
    same = ALWA(**{"mode": "alwa2", "interval": 4, option: value})
    same.load_state_dict(saved.state_dict())
    assert same.calls == 2


def test_a_call_on_another_device_fails_at_that_call_and_the_weighter_stays_usable():
    w = ALWA("alwa2", interval=4)
    feed(w, [1.0, 3.0], [1.0, 2.0])
    meta = torch.tensor(1.0, device="meta")
    with pytest.raises(ValueError, match="open window holds values from cpu"):
        w(meta, meta)
    with pytest.raises(ValueError, match="several devices"):
        w(torch.tensor(1.0), meta)
    assert w.calls == 2
    feed(w, [1.0, 3.0], [1.0, 2.0])  # the window goes on and ends as if nothing happened
    ref = ALWA("alwa2", interval=4)
    feed(ref, [1.0, 3.0, 1.0, 3.0], [1.0, 2.0, 1.0, 2.0])
    assert w.cls_weight == ref.cls_weight and w.calls == 4


@pytest.mark.parametrize("kwargs, match", [(dict(cls_weight=True), "cls_weight must be a real number"),
                                           (dict(reg_weight=False), "reg_weight must be a real number"),
                                           (dict(distributed="no"), "distributed must be True or False")])
def test_bool_weights_and_string_flags_are_rejected(kwargs, match):
    with pytest.raises(TypeError, match=match):
        ALWA(**kwargs)


def test_a_window_on_another_device_than_cpu_or_cuda_is_refused_on_load():
    w = ALWA(mode="alwa2", interval=4)
    w(torch.tensor(1.0), torch.tensor(0.5))
    state = w.state_dict()
    state["window"] = state["window"].to("meta")
    with pytest.raises(ValueError, match="the window is not an \\(n, 2\\) array of numbers \\(it is on the 'meta' device"):
        ALWA.from_state_dict(state)
    fresh = ALWA(mode="alwa2", interval=4)
    with pytest.raises(ValueError, match="'meta' device"):
        fresh.load_state_dict(state)
    assert fresh.calls == 0  # nothing changed


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_detrended_exactly_linear_windows_make_no_update(dtype):
    """Both losses fall exactly linearly: the residual stds are rounding residue (float32: ~1e-8), not a fluctuation;
    before the tolerance they set the weight to their ratio (0.47 in the issue's case)."""
    from alwa.core.weighter import detrended_std

    for mode in ("alwa2", "alwa1"):
        w = ALWA(mode=mode, interval=10, stat="detrended")
        for i in range(10):
            w(torch.tensor(2.0 - 0.013 * i, dtype=dtype), torch.tensor(0.9 - 0.0071 * i, dtype=dtype))
        assert w.cls_weight == 1.0 and not w.history[-1].updated
    y = torch.tensor([2.0 - 0.013 * i for i in range(10)], dtype=dtype).double()
    t = torch.arange(10, dtype=torch.float64)
    assert detrended_std(y, t) == 0.0 and detrended_std(y, t, rtol=0.0) < 1e-6
    noisy = y + torch.tensor([0.01, -0.01] * 5, dtype=torch.float64)
    assert detrended_std(noisy, t) == pytest.approx(detrended_std(noisy, t, rtol=0.0)) and detrended_std(noisy, t) > 0.005


def test_shape_1_losses_are_weighted_like_0d_ones_and_keep_their_shape():
    """SSD and the DETR family return per-loss tensors of shape (1,); mmdet accepts them, so does ALWA."""
    a, b = ALWA(mode="alwa2", interval=3), ALWA(mode="alwa2", interval=3)
    vals = [(1.0, 0.3), (1.6, 0.35), (0.7, 0.31), (1.2, 0.4)]
    for c, r in vals:
        out1 = a([torch.tensor([c])], [torch.tensor([r])])
        out0 = b([torch.tensor(c)], [torch.tensor(r)])
        assert out1[0][0].shape == (1,) and out0[0][0].shape == ()
        assert float(out1[0][0]) == float(out0[0][0]) and float(out1[1][0]) == float(out0[1][0])
    assert a.cls_weight == b.cls_weight != 1.0 and a.history == b.history


def test_lists_of_other_lengths_are_weighed_by_their_sums():
    """GFL-like: 2 classification terms against 3 regression terms; the window's statistics are of each side's sum
    (hand-computed: cls sums 3, 5; reg sums 6, 6 -> weighted mean+std ALWA-1: CLS 4 + 1.4142, REG 6 + 0 -> no update)."""
    w = ALWA(mode="alwa1", interval=2)
    t = torch.tensor
    out = w([t(1.0), t(2.0)], [t(1.0), t(2.0), t(3.0)])
    assert isinstance(out[0], list) and len(out[0]) == 2 and len(out[1]) == 3
    w([t(2.0), t(3.0)], [t(3.0), t(2.0), t(1.0)])
    s = w.history[-1]
    assert (s.raw_cls_mean, s.raw_reg_mean) == (4.0, 6.0)
    assert s.cls_std == pytest.approx(2 ** 0.5) and s.reg_std == 0.0
    assert not s.updated and w.weights == (1.0, 1.0)
    # and an update from such a window: cls sums 10, 14 (mean 12, std 2.83) vs reg 1, 1 -> weight = 1 / 14.83
    w2 = ALWA(mode="alwa1", interval=2)
    w2([t(4.0), t(6.0)], [t(0.5), t(0.25), t(0.25)])
    w2([t(7.0), t(7.0)], [t(0.5), t(0.5), t(0.0)])
    assert w2.cls_weight == pytest.approx(1.0 / (12.0 + 8 ** 0.5))
