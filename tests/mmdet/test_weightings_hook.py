"""The other weightings (alwa.core.weightings) by config in the mmdet hook: a tiny run each, named in the grammar; the
log's weights are the weighter's, uncertainty weighting's log-variances train in the optimizer, and its state
is in the checkpoint."""

import pytest

pytest.importorskip("mmdet")

import torch  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import alwa.mmdet  # noqa: E402,F401
from alwa.core.weightings import DWA, RLW, UncertaintyWeighting  # noqa: E402
from alwa.mmdet.hook import ALWAHook  # noqa: E402
from tiny_runs import C, ITERS, alwa_hook, scalars, tiny_cfg  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("kind,cls", [("uw", UncertaintyWeighting), ("dwa", DWA), ("rlw", RLW)])
def test_a_tiny_run_of_each_weighting_logs_its_weights_and_saves_its_state(tiny_voc, tmp_path, kind, cls):
    name = f"retinanet_r18w16_mini_l1_{kind}"
    cfg = tiny_cfg(name, tiny_voc, tmp_path)
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=ITERS, by_epoch=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook = alwa_hook(runner)
    w = hook.weighter
    assert isinstance(w, cls) and w.calls == ITERS and len(w.history) == ITERS // C
    rows = scalars(tmp_path)
    logged = [r["alwa_cls_weight"] for r in rows]
    assert len(logged) == ITERS and logged[-1] == pytest.approx(w.cls_weight, rel=1e-5)
    if kind == "rlw":
        assert len(set(round(x, 6) for x in logged)) == ITERS  # a new draw each iteration
    if kind == "dwa":
        assert logged[:2 * C] == [1.0] * (2 * C) and logged[-1] != 1.0  # 1:1 for two windows, then moved
    if kind == "uw":
        opt = runner.optim_wrapper.optimizer
        assert any(p is w.log_vars for g in opt.param_groups for p in g["params"])
        assert w.log_vars.detach().abs().sum() > 0  # trained
    ckpt = torch.load(sorted(tmp_path.rglob("iter_*.pth"))[-1], map_location="cpu", weights_only=False)
    fresh = cls(interval=C)
    fresh.load_state_dict(ckpt["alwa"]["alwa"]["state"])
    assert fresh.calls == ITERS and fresh.weights == pytest.approx(w.weights)


def test_the_hook_refuses_an_unknown_weighting_or_an_option_it_does_not_take():
    with pytest.raises(ValueError, match="weighting='xyz' is not one of"):
        ALWAHook(weighting="xyz")
    with pytest.raises(TypeError, match="weighting='dwa'"):
        ALWAHook(weighting="dwa", mode="alwa2")
    with pytest.raises(ValueError, match="adopt_checkpoint_options applies to ALWA"):
        ALWAHook(weighting="rlw", adopt_checkpoint_options=True)
    assert isinstance(ALWAHook(weighting="dwa", interval=7, temperature=3.0).weighter, DWA)
