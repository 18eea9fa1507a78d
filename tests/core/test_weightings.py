"""alwa.core.weightings: uncertainty weighting, DWA and RLW against the formulas of their papers (hand-computed
values), their state, and the interface they share with alwa.ALWA."""
import math

import pytest
import torch

from alwa.core.weightings import DWA, RLW, WEIGHTINGS, UncertaintyWeighting


def t(x):
    return torch.tensor(float(x), requires_grad=True)


# ------------------------------------------------------------------ uncertainty weighting
def test_uncertainty_weighting_is_exp_minus_s_times_loss_plus_s_and_its_gradient_is_one_minus_that():
    w = UncertaintyWeighting(interval=2, init=(math.log(4.0), 0.0))  # sigma^2 = 4 for cls: weight 1/4
    cls, reg = t(2.0), t(3.0)
    oc, orr = w(cls, reg)
    assert oc.item() == pytest.approx(0.25 * 2.0 + math.log(4.0)) and orr.item() == pytest.approx(3.0)
    (oc + orr).backward()
    # d/ds [exp(-s) L + s] = 1 - exp(-s) L ; d/dL = exp(-s)
    assert w.log_vars.grad.tolist() == pytest.approx([1 - 0.25 * 2.0, 1 - 3.0])
    assert cls.grad.item() == pytest.approx(0.25) and reg.grad.item() == pytest.approx(1.0)
    assert w.weights == pytest.approx((0.25, 1.0))


def test_uncertainty_weighting_learns_the_weight_that_balances_its_loss():
    """With a constant loss L the optimum of exp(-s) L + s is s = log L: the weight goes to 1 / L."""
    w = UncertaintyWeighting(interval=10)
    opt = torch.optim.SGD(w.parameters(), lr=0.1)
    for _ in range(300):
        oc, orr = w(torch.tensor(4.0), torch.tensor(0.5))
        opt.zero_grad()
        (oc + orr).backward()
        opt.step()
    assert w.weights == pytest.approx((0.25, 2.0), rel=1e-3)


def test_uncertainty_weighting_adds_its_term_once_over_levels():
    w = UncertaintyWeighting(interval=2, init=(1.0, 2.0))
    oc, orr = w([torch.tensor(1.0), torch.tensor(2.0)], [torch.tensor(3.0)])
    assert [x.item() for x in oc] == pytest.approx([math.exp(-1) * 1 + 1, math.exp(-1) * 2])
    assert orr[0].item() == pytest.approx(math.exp(-2) * 3 + 2)


# ------------------------------------------------------------------ DWA
def test_dwa_is_one_to_one_for_two_windows_then_k_softmax_of_the_loss_ratios_over_t():
    w = DWA(interval=2, temperature=2.0)
    cls = [4.0, 4.0, 2.0, 2.0, 1.0, 1.0]  # window means 4, 2 (ratio 0.5)
    reg = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]  # window means 1, 1 (ratio 1)
    got = []
    for c, r in zip(cls, reg):
        w(torch.tensor(c), torch.tensor(r))
        got.append(w.weights)
    assert got[:4] == [(1.0, 1.0)] * 4  # windows 1 and 2
    e = [math.exp(0.5 / 2), math.exp(1.0 / 2)]
    want = (2 * e[0] / sum(e), 2 * e[1] / sum(e))  # 0.7551, 1.2449
    assert got[4] == pytest.approx(want) and got[5] == pytest.approx(want)
    out = w(torch.tensor(3.0), torch.tensor(5.0))  # window 3's means 1, 1: ratios 0.5, 1 again
    assert [o.item() for o in out] == pytest.approx([3 * want[0], 5 * want[1]], rel=1e-6)
    assert [h.cls_weight for h in w.history] == pytest.approx([1.0, 1.0, want[0]])


def test_dwa_temperature_flattens_the_weights():
    hot, cold = DWA(interval=2, temperature=100.0), DWA(interval=2, temperature=0.5)
    for w in (hot, cold):
        for c in (4.0, 4.0, 1.0, 1.0, 1.0):
            w(torch.tensor(c), torch.tensor(1.0))
    assert abs(hot.cls_weight - 1) < 0.01 and cold.cls_weight < 0.5 and sum(cold.weights) == pytest.approx(2.0)


# ------------------------------------------------------------------ RLW
def test_rlw_draws_softmax_of_a_standard_normal_per_call_from_its_seed():
    w = RLW(interval=3, seed=7)
    g = torch.Generator().manual_seed(7)
    for _ in range(5):
        oc, orr = w(torch.tensor(2.0), torch.tensor(3.0))
        z = torch.randn(2, generator=g)
        lam = torch.softmax(z, dim=0)
        assert w.weights == pytest.approx(tuple(lam.tolist())) and sum(w.weights) == pytest.approx(1.0)
        assert oc.item() == pytest.approx(2.0 * lam[0].item()) and orr.item() == pytest.approx(3.0 * lam[1].item())


# ------------------------------------------------------------------ shared
@pytest.mark.parametrize("kind", sorted(WEIGHTINGS))
def test_a_resumed_weighting_continues_bit_identically(kind):
    def make():
        return WEIGHTINGS[kind](interval=3)

    losses = [(torch.tensor(1.0 + 0.3 * i), torch.tensor(2.0 / (1 + i))) for i in range(11)]
    ref = make()
    ref_w = [ref(*x) and ref.weights for x in losses]
    a = make()
    for x in losses[:5]:
        a(*x)
    b = make()
    b.load_state_dict(a.state_dict())
    got = [b(*x) and b.weights for x in losses[5:]]
    assert got == ref_w[5:] and [h.as_dict() for h in b.history] == [h.as_dict() for h in ref.history]


@pytest.mark.parametrize("kind", sorted(WEIGHTINGS))
def test_a_state_of_another_weighting_or_other_options_is_refused_and_changes_nothing(kind):
    w = WEIGHTINGS[kind](interval=3)
    other = next(k for k in WEIGHTINGS if k != kind)
    with pytest.raises(ValueError, match=f"the state is of '{other}'"):
        w.load_state_dict(WEIGHTINGS[other](interval=3).state_dict())
    with pytest.raises(ValueError, match="options"):
        w.load_state_dict(WEIGHTINGS[kind](interval=4).state_dict())
    assert w.calls == 0 and w.history == []


@pytest.mark.parametrize("kind", sorted(WEIGHTINGS))
def test_each_records_windows_of_the_raw_losses_as_alwa_monitors_them(kind):
    from alwa import ALWA

    w, mon = WEIGHTINGS[kind](interval=2), ALWA(mode="monitor", interval=2, record="raw")
    for i in range(4):
        x = (torch.tensor(1.0 + i), torch.tensor(0.5 * i))
        w(*x)
        mon(*x)
    assert [h.raw_cls_mean for h in w.history] == [h.raw_cls_mean for h in mon.history] == [1.5, 3.5]
    assert len(w.history) == 2 and w.calls == 4 and w.weight_tensors()[0].ndim == 0


def test_bad_options_are_refused_with_one_line():
    with pytest.raises(ValueError, match="temperature"):
        DWA(temperature=0)
    with pytest.raises(TypeError, match="seed"):
        RLW(seed=1.5)
    with pytest.raises(ValueError, match="init"):
        UncertaintyWeighting(init=(0.0, math.nan))
    with pytest.raises(ValueError, match="interval"):
        DWA(interval=1)
