"""alwa.mmdet.hook: ALWAHook through mmengine's Runner with tiny models on CPU. RetinaNet and Faster R-CNN train
past two windows; the logged weights equal what alwa.ALWA computes from the logged raw losses; resume continues the
exact trajectory; load_from without ALWA state starts fresh with a log line; errors are clear; 2-process distributed
training (launcher pytorch, gloo) agrees across ranks; a resume that cannot be honoured is refused."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("mmdet")

from mmengine.runner import Runner  # noqa: E402

import alwa.mmdet  # noqa: E402,F401
from alwa import ALWA  # noqa: E402
from alwa.mmdet.configs import Experiment, build_config  # noqa: E402
from alwa.mmdet.hook import ALWAHook  # noqa: E402
from tiny_runs import C, ITERS, alwa_hook, scalars, tiny_cfg  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("name", ["retinanet_r18w16_mini_l1_alwa1", "faster-rcnn_r18w16_mini_smoothl1_alwa2",
                                  "retinanet_r18w16_mini_giou_alwa1"])
def test_trains_past_two_windows_and_logs_weights_consistent_with_alwa(name, tiny_voc, tmp_path):
    runner = Runner.from_cfg(tiny_cfg(name, tiny_voc, tmp_path))
    runner.train()
    hook = alwa_hook(runner)
    assert hook.weighter.calls == ITERS and len(hook.weighter.history) == ITERS // C >= 2
    assert any(h.updated for h in hook.weighter.history)  # not vacuous: the weight moved
    rows = scalars(tmp_path)
    assert [r["iter"] for r in rows] == list(range(1, ITERS + 1))
    for r in rows:  # logged beside the losses, not added into the total loss
        assert "loss" in r and r["alwa_reg_weight"] == 1.0
    # replay: ALWA fed the logged raw losses gives the logged weights
    mode = Experiment.parse(name).weighting
    replay = ALWA(mode, interval=C)
    for r in rows:
        assert r["alwa_cls_weight"] == pytest.approx(replay.cls_weight, rel=1e-5)
        replay(torch.tensor(r["alwa_cls_raw"], dtype=torch.float64), torch.tensor(r["alwa_reg_raw"], dtype=torch.float64))
    assert replay.cls_weight == pytest.approx(hook.weighter.cls_weight, rel=1e-5)
    # the weighted loss in the log is weight x raw
    key = "loss_cls" if "retinanet" in name else "loss_rpn_cls"
    for r in rows:
        assert r[key] == pytest.approx(r["alwa_cls_weight"] * r["alwa_cls_raw"], rel=1e-4, abs=1e-6)
    text = "".join(p.read_text() for p in tmp_path.rglob("*.log"))
    assert re.search(r"alwa_cls_weight: \d", text)  # mmengine's text log too
    ckpt = torch.load(tmp_path / f"iter_{ITERS}.pth", map_location="cpu", weights_only=False)
    assert ckpt["alwa"]["alwa"]["state"]["calls"] == ITERS


@pytest.mark.slow
def test_resume_continues_the_exact_weight_trajectory(tiny_voc, tmp_path):
    name = "retinanet_r18w16_mini_l1_alwa2"
    full = tiny_cfg(name, tiny_voc, tmp_path / "full")
    r_full = Runner.from_cfg(full)
    r_full.train()
    ref = scalars(tmp_path / "full")

    part = tiny_cfg(name, tiny_voc, tmp_path / "part")
    part.default_hooks.checkpoint = dict(type="CheckpointHook", interval=6, by_epoch=False)  # mid-window (6 % 4 = 2)
    part.train_cfg.max_iters = 6
    part.param_scheduler = full.param_scheduler  # same schedule as the full run
    Runner.from_cfg(part).train()
    res = tiny_cfg(name, tiny_voc, tmp_path / "part")
    res.resume, res.load_from = True, str(tmp_path / "part" / "iter_6.pth")
    r_res = Runner.from_cfg(res)
    r_res.train()
    got = scalars(tmp_path / "part")
    assert [r["iter"] for r in got] == list(range(1, ITERS + 1))
    assert [r["alwa_cls_weight"] for r in got] == [r["alwa_cls_weight"] for r in ref]
    for a, b in zip(got, ref):
        assert a["alwa_cls_raw"] == pytest.approx(b["alwa_cls_raw"], rel=1e-5)
    wa, wb = alwa_hook(r_res).weighter, alwa_hook(r_full).weighter
    assert wa.calls == wb.calls == ITERS
    assert [h.cls_weight for h in wa.history] == pytest.approx([h.cls_weight for h in wb.history], rel=1e-6)
    log = "".join(p.read_text() for p in (tmp_path / "part").rglob("*.log"))
    assert "ALWAHook: resumed ALWA(" in log


@pytest.mark.slow
def test_load_from_without_alwa_state_starts_fresh(tiny_voc, tmp_path):
    name = "retinanet_r18w16_mini_l1_alwa2"
    Runner.from_cfg(tiny_cfg(name, tiny_voc, tmp_path / "a", iters=4)).train()
    ck = torch.load(tmp_path / "a" / "iter_4.pth", map_location="cpu", weights_only=False)
    del ck["alwa"]
    torch.save(ck, tmp_path / "plain.pth")
    cfg = tiny_cfg(name, tiny_voc, tmp_path / "b", iters=4)
    cfg.load_from = str(tmp_path / "plain.pth")
    r = Runner.from_cfg(cfg)
    r.train()
    log = "".join(p.read_text() for p in (tmp_path / "b").rglob("*.log"))
    assert "checkpoint has no ALWA state for 'alwa'; ALWA starts fresh" in log
    assert alwa_hook(r).weighter.calls == 4


def test_hook_errors_name_what_exists(tiny_voc):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules()
    cfg = build_config("faster-rcnn_r18w16_mini_l1_alwa2", data_root=tiny_voc)
    model = MODELS.build(cfg.model)
    with pytest.raises(ValueError, match=r"has no head 'bbox_head'.*rpn_head.*roi_head\.bbox_head"):
        ALWAHook(head="bbox_head").attach(model)
    with pytest.raises(ValueError, match="must not contain 'loss'"):
        ALWAHook(name="my_loss")
    hook = ALWAHook(head="rpn_head", cls_key="loss_cls", reg_key="loss_rpn_bbox")
    hook.attach(model)
    with pytest.raises(KeyError, match=r"cls_key='loss_cls' names \['loss_cls'\], which the head does not return; it returns "
                                       r"\['loss_rpn_cls', 'loss_rpn_bbox'\]"):  # the option as the user spelled it
        model.rpn_head.loss_by_feat._resolve({"loss_rpn_cls": 0, "loss_rpn_bbox": 0})
    with pytest.raises(ValueError, match="unknown mode"):
        ALWAHook(mode="alwa9")


@pytest.mark.slow
def test_roi_head_can_be_weighted_too(tiny_voc, tmp_path):
    cfg = tiny_cfg("faster-rcnn_r18w16_mini_l1_base", tiny_voc, tmp_path, iters=4)
    cfg.custom_hooks = [dict(type="ALWAHook", head="roi_head.bbox_head", name="alwa_roi", mode="alwa2", interval=2)]
    runner = Runner.from_cfg(cfg)
    runner.train()
    rows = [json.loads(line) for f in tmp_path.rglob("scalars.json") for line in f.read_text().splitlines()]
    assert sum("alwa_roi_cls_weight" in r for r in rows) == 4


DIST_SCRIPT = r"""
import json, os, sys
import torch
from mmengine.runner import Runner
sys.path[:0] = [{tests!r}, os.path.dirname({tests!r})]  # this test module, and tests/ (reference.py)
from tiny_runs import tiny_cfg, alwa_hook
cfg = tiny_cfg("retinanet_r18w16_mini_l1_alwa1", {root!r}, {work!r})
cfg.launcher = "pytorch"
cfg.env_cfg.dist_cfg = dict(backend="gloo")
cfg.model_wrapper_cfg = dict(type="MMDistributedDataParallel", device_ids=None)
runner = Runner.from_cfg(cfg)
runner.train()
w = alwa_hook(runner).weighter
out = dict(rank=int(os.environ["RANK"]), traj=[h.cls_weight for h in w.history], world=torch.distributed.get_world_size(),
           history=[h.as_dict() for h in w.history])
open(os.path.join({work!r}, f"rank{{out['rank']}}.json"), "w").write(json.dumps(out))
"""


@pytest.mark.slow
def test_distributed_launcher_pytorch_gives_identical_weights_on_all_ranks(tiny_voc, tmp_path):
    script = tmp_path / "dist_train.py"
    script.write_text(DIST_SCRIPT.format(tests=str(Path(__file__).resolve().parent), root=tiny_voc, work=str(tmp_path)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}", str(script)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{i}.json").read_text()) for i in (0, 1))
    assert r0["world"] == 2 and len(r0["traj"]) == ITERS // C
    assert r0["traj"] == r1["traj"] and r0["history"] == r1["history"]  # same window statistics on both ranks
    assert any(h["updated"] for h in r0["history"])


@pytest.mark.slow
def test_two_hooks_of_one_name_are_refused(tiny_voc, tmp_path):
    cfg = tiny_cfg("faster-rcnn_r18w16_mini_l1_alwa2", tiny_voc, tmp_path, iters=2)
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type="ALWAHook", head="roi_head.bbox_head", mode="alwa2", interval=C)]
    with pytest.raises(ValueError, match="2 ALWAHooks are named 'alwa'"):
        Runner.from_cfg(cfg).train()
    cfg.custom_hooks[-1]["name"] = "alwa_roi"  # with its own name it runs
    cfg2 = tiny_cfg("faster-rcnn_r18w16_mini_l1_alwa2", tiny_voc, tmp_path / "ok2", iters=2)
    cfg2.custom_hooks = cfg.custom_hooks
    runner = Runner.from_cfg(cfg2)
    runner.train()
    names = sorted(h.name for h in runner.hooks if isinstance(h, ALWAHook))
    assert names == ["alwa", "alwa_roi"]


def _checkpoint_at(tmp_path, tiny_voc, name="retinanet_r18w16_mini_l1_alwa2", iters=6):
    cfg = tiny_cfg(name, tiny_voc, tmp_path / "a")
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=iters, by_epoch=False)
    cfg.train_cfg.max_iters = iters
    Runner.from_cfg(cfg).train()
    return tmp_path / "a" / f"iter_{iters}.pth"


@pytest.mark.slow
def test_resume_with_other_alwa_options_is_an_error_unless_adopted(tiny_voc, tmp_path):
    ck = _checkpoint_at(tmp_path, tiny_voc)
    cfg = tiny_cfg("retinanet_r18w16_mini_l1_alwa1", tiny_voc, tmp_path / "a")  # alwa1 against the checkpoint's alwa2
    cfg.resume, cfg.load_from = True, str(ck)
    with pytest.raises(ValueError, match=r"mode='alwa2' in the state, 'alwa1' here"):
        Runner.from_cfg(cfg).train()
    cfg = tiny_cfg("retinanet_r18w16_mini_l1_alwa1", tiny_voc, tmp_path / "a")
    cfg.resume, cfg.load_from = True, str(ck)
    cfg.custom_hooks[-1]["adopt_checkpoint_options"] = True
    r = Runner.from_cfg(cfg)
    r.train()
    w = alwa_hook(r).weighter
    assert w.mode == "alwa2" and w.calls == ITERS


@pytest.mark.slow
def test_resume_on_another_head_is_an_error(tiny_voc, tmp_path):
    ck = torch.load(_checkpoint_at(tmp_path, tiny_voc), map_location="cpu", weights_only=False)
    ck["alwa"]["alwa"]["head"] = "rpn_head"
    torch.save(ck, tmp_path / "other_head.pth")
    cfg = tiny_cfg("retinanet_r18w16_mini_l1_alwa2", tiny_voc, tmp_path / "b")
    cfg.resume, cfg.load_from = True, str(tmp_path / "other_head.pth")
    with pytest.raises(ValueError, match=r"head 'rpn_head', this config weights 'bbox_head'"):
        Runner.from_cfg(cfg).train()
    cfg = tiny_cfg("retinanet_r18w16_mini_l1_alwa2", tiny_voc, tmp_path / "c")  # adopting options does not adopt a head
    cfg.resume, cfg.load_from = True, str(tmp_path / "other_head.pth")
    cfg.custom_hooks[-1]["adopt_checkpoint_options"] = True
    with pytest.raises(ValueError, match=r"head 'rpn_head', this config weights 'bbox_head'; resume with head='rpn_head'"):
        Runner.from_cfg(cfg).train()


@pytest.mark.slow
def test_adopting_options_keeps_this_processs_distributed_setting(tiny_voc, tmp_path):
    ck = torch.load(_checkpoint_at(tmp_path, tiny_voc), map_location="cpu", weights_only=False)
    ck["alwa"]["alwa"]["state"]["distributed"] = True
    torch.save(ck, tmp_path / "dist.pth")
    cfg = tiny_cfg("retinanet_r18w16_mini_l1_alwa2", tiny_voc, tmp_path / "d")
    cfg.resume, cfg.load_from = True, str(tmp_path / "dist.pth")
    cfg.custom_hooks[-1].update(adopt_checkpoint_options=True, distributed=False)
    r = Runner.from_cfg(cfg)
    r.train()
    assert alwa_hook(r).weighter.distributed is False


@pytest.mark.parametrize("flag", ["false", "True", 1, None])
def test_adopt_checkpoint_options_takes_a_real_bool_only(flag):
    with pytest.raises(TypeError, match=f"adopt_checkpoint_options must be True or False, got {flag!r}"):
        ALWAHook(adopt_checkpoint_options=flag)


@pytest.mark.slow
def test_resume_without_alwa_state_warns(tiny_voc, tmp_path):
    ck = torch.load(_checkpoint_at(tmp_path, tiny_voc), map_location="cpu", weights_only=False)
    del ck["alwa"]
    torch.save(ck, tmp_path / "plain.pth")
    cfg = tiny_cfg("retinanet_r18w16_mini_l1_alwa2", tiny_voc, tmp_path / "b")
    cfg.resume, cfg.load_from = True, str(tmp_path / "plain.pth")
    cfg.log_level = "WARNING"  # the sweep's level: the line must still show
    Runner.from_cfg(cfg).train()
    log = "".join(p.read_text() for p in (tmp_path / "b").rglob("*.log"))
    assert re.search(r"WARNING - ALWAHook: checkpoint has no ALWA state for 'alwa'; ALWA starts fresh", log)


@pytest.mark.slow
def test_the_logged_weight_times_the_logged_raw_loss_is_the_logged_loss(tiny_voc, tmp_path):
    """mmengine averages ``loss_*`` over the log processor's window; ALWAHook's columns are averaged the same way, so
    ``loss_cls`` reads as ``alwa_cls_weight x alwa_cls_raw`` (the weight is fixed here: one key, every window)."""
    cfg = tiny_cfg("retinanet_r18w16_mini_l1_base", tiny_voc, tmp_path, iters=6)
    cfg.custom_hooks = [dict(type="ALWAHook", mode="monitor", cls_weight=0.5, reg_weight=2.0, interval=100)]
    cfg.log_processor = dict(type="LogProcessor", window_size=3, by_epoch=False)
    Runner.from_cfg(cfg).train()
    rows = scalars(tmp_path)
    assert len(rows) == 6
    raws = [r["alwa_cls_raw"] for r in rows]
    assert len(set(raws)) > 1  # the raw loss moves, so a current value and a window mean would differ
    for r in rows:
        assert r["loss_cls"] == pytest.approx(r["alwa_cls_weight"] * r["alwa_cls_raw"], rel=1e-5)
        assert r["loss_bbox"] == pytest.approx(r["alwa_reg_weight"] * r["alwa_reg_raw"], rel=1e-5)
