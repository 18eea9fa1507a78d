"""alwa.mmdet: ALWAHook through mmengine's Runner with tiny models on CPU.

RetinaNet and Faster R-CNN train past two windows; the logged weights equal
what alwa.ALWA computes from the logged raw losses; resume continues the exact
trajectory; load_from without ALWA state starts fresh with a log line; the
README's lines work verbatim; every paper config builds; errors are clear;
2-process distributed training (launcher pytorch, gloo) agrees across ranks."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("mmdet")

from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import alwa.mmdet  # noqa: E402,F401
from alwa import ALWA  # noqa: E402
from alwa.data import synthetic  # noqa: E402
from alwa.mmdet.configs import Experiment, MiniSetting, build_config, paper_experiments  # noqa: E402
from alwa.mmdet.hook import ALWAHook  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ITERS, C = 12, 4


@pytest.fixture(scope="module")
def tiny_voc(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_voc")
    synthetic.generate(root, synthetic.MiniVOCOptions(n_trainval=16, n_test=4, seed=1), workers=1, progress=False)
    return str(root / "VOCdevkit") + "/"


def tiny_cfg(name, data_root, work_dir, iters=ITERS, **setting):
    # the paper's RetinaNet head (std-0.01 convs, no GroupNorm): with it the classification loss of these
    # 12-iteration runs exceeds the regression loss, so ALWA's weight moves and the tests are not vacuous
    setting = {"head_init": "normal", "head_norm": None, **setting}
    st = MiniSetting(iters=iters, batch_size=2, img_scale=(128, 128), interval=C, warmup_iters=2, **setting)
    cfg = build_config(name, data_root=data_root, setting=st, work_dir=str(work_dir))
    cfg.experiment_name = f"{name}_{Path(work_dir).parent.name}_{Path(work_dir).name}_{os.getpid()}"
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.visualization = dict(type="DetVisualizationHook")
    cfg.log_processor = dict(type="LogProcessor", window_size=1, by_epoch=False)
    return cfg


def alwa_hook(runner):
    hooks = [h for h in runner.hooks if isinstance(h, ALWAHook)]
    assert len(hooks) == 1
    return hooks[0]


def scalars(work_dir):
    files = sorted(Path(work_dir).rglob("vis_data/scalars.json"))
    assert files, f"no scalars.json under {work_dir}"
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    return [r for r in rows if "alwa_cls_weight" in r]


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


def readme_config_lines():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    lines = [b for b in blocks if "custom_imports" in b and "ALWAHook" in b]
    assert len(lines) == 1, "README must show one block with the config lines"
    return lines[0]


@pytest.mark.slow
def test_readme_config_lines_work_verbatim(tiny_voc, tmp_path):
    cfg = tiny_cfg("retinanet_r18w16_mini_l1_base", tiny_voc, tmp_path, iters=3)
    cfg.custom_hooks, cfg.custom_imports = [], dict(imports=[])
    cfg.merge_from_dict(Config.fromstring(readme_config_lines(), file_format=".py").to_dict())
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook = alwa_hook(runner)
    assert hook.weighter.mode == "alwa2" and hook.head_path == "bbox_head" and hook.weighter.calls == 3
    assert len(scalars(tmp_path)) == 3


@pytest.mark.slow
def test_every_paper_config_builds():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules()
    names = sorted({e.name for exps in paper_experiments().values() for e in exps})
    assert len(names) > 90
    for name in names:
        cfg = build_config(name)
        assert Experiment.parse(name).name == name
        model = MODELS.build(cfg.model)
        (hook_cfg,) = [h for h in cfg.custom_hooks if h["type"] == "ALWAHook"]
        hook = ALWAHook(**{k: v for k, v in hook_cfg.items() if k != "type"})
        hook.attach(model)
        exp = Experiment.parse(name)
        assert cfg.optim_wrapper.optimizer.lr == {"retinanet": 0.01}.get(exp.detector, 0.02)
        assert cfg.train_dataloader.batch_size * len(cfg.gpu_ids) == 8
        head = model.bbox_head if exp.detector == "retinanet" else model.rpn_head
        assert type(head.loss_bbox).__name__.lower().startswith(exp.reg_loss.replace("smoothl1", "smoothl1"))
        if exp.dataset == "voc":
            assert "VOC2012" in cfg.train_dataloader.dataset.ann_file and "VOC2007" in cfg.test_dataloader.dataset.ann_file


def test_experiment_names_round_trip_and_errors():
    for name in ["retinanet_r50_voc_l1_w0.50-0.75", "faster-rcnn_r50_voc_ciou_alwa2_C200", "faster-rcnn_r50_voc_l1_alwa2_init0.75",
                 "mask-rcnn_r101_coco_smoothl1_alwa1", "retinanet_r18w16_mini_giou_base"]:
        assert Experiment.parse(name).name == name
    with pytest.raises(ValueError, match="not an experiment name"):
        Experiment.parse("yolo_r50_voc_l1_base")
    with pytest.raises(ValueError, match="ALWA runs only"):
        Experiment.parse("retinanet_r50_voc_l1_base_C20")
    with pytest.raises(ValueError, match="COCO only"):
        build_config("mask-rcnn_r50_voc_l1_base")


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
    with pytest.raises(KeyError, match=r"cls_keys \['loss_cls'\] not returned by the head; it returns \['loss_rpn_cls', "
                                       r"'loss_rpn_bbox'\]"):
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
from test_mmdet import tiny_cfg, alwa_hook
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
def test_same_seed_same_result_and_the_record_is_complete(tmp_path):
    from alwa.mmdet.run import run_spec

    spec = dict(name="retinanet_r18w16_mini_l1_alwa1", seed=3, work_root=str(tmp_path / "w"), data_dir=str(tmp_path / "d" / "voc"),
                dataset=dict(n_trainval=16, n_test=4), pretrain=dict(steps=5, batch_size=8),
                setting=dict(iters=8, batch_size=2, img_scale=[128, 128], interval=4, warmup_iters=2))
    a, b = run_spec(spec), run_spec(spec)
    assert a["per_iter"]["cls_raw"] == b["per_iter"]["cls_raw"] and a["per_iter"]["reg_raw"] == b["per_iter"]["reg_raw"]
    assert a["mAP"] == b["mAP"] and a["weight_trajectory"] == b["weight_trajectory"] and a["config_hash"] == b["config_hash"]
    c = run_spec(dict(spec, seed=4))
    assert c["per_iter"]["cls_raw"] != a["per_iter"]["cls_raw"]
    for key in ("mAP", "windows", "weight_trajectory", "train_seconds", "provenance", "config_hash", "seed", "per_iter"):
        assert key in a
    assert len(a["per_iter"]["cls_raw"]) == 8 and len(a["windows"]) == 2 and a["provenance"]["mmdet"] == "3.3.0"


@pytest.mark.slow
def test_a_run_evaluates_the_test_split_once(tmp_path, monkeypatch):
    """mmengine validates at the loop's end on the split runner.test() evaluates again; run_spec drops that copy
    (same mAP, half the evaluations) unless asked to validate."""
    from mmdet.evaluation import VOCMetric

    from alwa.mmdet.run import run_spec

    calls = []
    original = VOCMetric.compute_metrics
    monkeypatch.setattr(VOCMetric, "compute_metrics", lambda self, results: calls.append(len(results)) or original(self, results))
    spec = dict(name="retinanet_r18w16_mini_l1_base", seed=1, work_root=str(tmp_path / "w"), data_dir=str(tmp_path / "d" / "voc"),
                dataset=dict(n_trainval=16, n_test=4), pretrain=dict(steps=5, batch_size=8),
                setting=dict(iters=4, batch_size=2, img_scale=[128, 128], warmup_iters=2))
    once = run_spec(spec)
    assert calls == [4]  # one evaluation of the 4 test images
    twice = run_spec(dict(spec, validate=True))
    assert calls == [4, 4, 4] and twice["mAP"] == once["mAP"] and twice["config_hash"] == once["config_hash"]


def test_mini_setting_knobs_reach_the_model():
    """The calibration knobs of MiniSetting end up in the built model (and a typo is an error)."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules()
    st = MiniSetting(head_init="kaiming", head_norm="GN", frozen_stages=4, norm_eval=True, scales_per_octave=1, anchor_ratios=(1.0,))
    m = MODELS.build(build_config("retinanet_r18w16_mini_l1_base", setting=st).model)
    m.init_weights()
    h = m.bbox_head
    assert h.num_base_priors == 1 and h.cls_convs[0].gn is not None
    conv_std = float(h.cls_convs[0].conv.weight.detach().std())
    assert 0.04 < conv_std < 0.08  # Kaiming for 64 x 3 x 3 inputs: sqrt(2 / 576) = 0.059, not 0.01
    assert float(h.retina_cls.weight.detach().std()) == pytest.approx(0.01, rel=0.2)
    assert float(h.retina_cls.bias.detach()[0]) == pytest.approx(-4.595, abs=1e-3)  # the focal-loss prior, kept
    m.train()
    assert all(not p.requires_grad for p in m.backbone.parameters()) and not m.backbone.bn1.training
    fr = build_config("faster-rcnn_r18w16_mini_l1_base", setting=MiniSetting(roi_samples=64, roi_fc=128, rpn_proposals=150,
                                                                             rpn_nms_pre=300, roi_sampling_ratio=2)).model
    assert fr.train_cfg.rcnn.sampler.num == 64 and fr.roi_head.bbox_head.fc_out_channels == 128
    assert fr.train_cfg.rpn_proposal.max_per_img == 150 and fr.train_cfg.rpn_proposal.nms_pre == 300
    assert fr.test_cfg.rpn.nms_pre == 300
    fm = MODELS.build(fr)
    assert fm.roi_head.bbox_roi_extractor.roi_layers[0].sampling_ratio == 2
    with pytest.raises(ValueError, match="head_init"):
        build_config("retinanet_r18w16_mini_l1_base", setting=MiniSetting(head_init="xavier"))


def test_deep_multiscale_pretraining_trains_every_level(tiny_voc, tmp_path):
    """deep=True puts a classifier on C3, C4 and C5; the saved backbone loads into mmdet's ResNet;
    other options give another cache entry."""
    from mmdet.models.backbones import ResNet

    from alwa.mmdet.pretrain import PretrainOptions, ensure_pretrained

    opts = PretrainOptions(steps=3, batch_size=8, sizes=(16, 32), deep=True)
    path = ensure_pretrained(tiny_voc, synthetic.CLASSES, tmp_path, opts, progress=False)
    ck = torch.load(path, weights_only=False)
    assert ck["meta"]["options"]["deep"] is True and list(ck["meta"]["options"]["sizes"]) == [16, 32]
    ResNet(depth=18, base_channels=16, out_indices=(1, 2, 3)).load_state_dict(ck["state_dict"])
    other = ensure_pretrained(tiny_voc, synthetic.CLASSES, tmp_path, PretrainOptions(steps=3, batch_size=8), progress=False)
    assert other != path and other.exists()


def test_pretrained_neck_loads_into_the_detector(tiny_voc, tmp_path):
    """neck=fpn_channels pre-trains the FPN too; the detector built with pretrained_neck starts
    from exactly those backbone and FPN weights."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    from alwa.mmdet.pretrain import PretrainOptions, ensure_pretrained

    register_all_modules()
    path = ensure_pretrained(tiny_voc, synthetic.CLASSES, tmp_path, PretrainOptions(steps=2, batch_size=8, neck=64), progress=False)
    sd = torch.load(path, weights_only=False)["state_dict"]
    assert any(k.startswith("neck.") for k in sd) and "conv1.weight" in sd
    m = MODELS.build(build_config("retinanet_r18w16_mini_l1_base", setting=MiniSetting(pretrained=str(path), pretrained_neck=True)).model)
    m.init_weights()
    for k, v in m.neck.state_dict().items():
        assert torch.equal(v, sd[f"neck.{k}"]), k
    assert torch.equal(m.backbone.conv1.weight, sd["conv1.weight"])


def test_train_step_benchmark_times_alwa_blocks_only(tiny_voc):
    from alwa.bench import train as bench_train

    r = bench_train.run(blocks=2, steps=2, warmup=1, data_root=tiny_voc, threads=1)
    # ALWA runs only in its own blocks: 2 blocks x 2 steps
    assert r["alwa_calls"] == 4 and r["steps_each"] == 4 and len(r["block_ratios"]) == 2
    lo, hi = r["ratio_ci95"]
    from alwa.analysis.stats import ratio_verdict

    assert lo <= r["ratio"] <= hi and r["goal_verdict"] == ratio_verdict(lo, hi, r["goal"])  # the verdict of this interval
    # the wrapper's own time is positive and far below a step (a few scalar ops and four logging tensors)
    assert 0 < r["median_hook_s"] < 0.05 * r["median_step_s_plain"]
    assert "95% CI" in bench_train.describe(r)


@pytest.mark.slow
def test_a_fixed_weight_runs_plotted_curves_are_what_the_head_returned(tiny_voc, tmp_path):
    """Figure 3: the recorded losses of a fixed-weight run already hold mmdet's loss_weight; the plotted
    curves are the head's own losses, not the regression loss scaled by w_reg a second time."""
    from alwa.analysis.summaries import window_curves

    name = "retinanet_r18w16_mini_l1_w0.50-0.75"
    runner = Runner.from_cfg(tiny_cfg(name, tiny_voc, tmp_path))
    runner.train()
    rows = scalars(tmp_path)
    exp = Experiment.parse(name)
    record = {"per_iter": {k: [r[f"alwa_{k}"] for r in rows] for k in ("cls_raw", "reg_raw", "cls_weight")},
              "experiment": {"weighting": exp.weighting, "cls_weight": exp.cls_weight, "reg_weight": exp.reg_weight}}
    c = window_curves(record, C)
    head_cls, head_reg = [r["loss_cls"] for r in rows], [r["loss_bbox"] for r in rows]
    for i in range(ITERS // C):
        assert c["cls_mean"][i] == pytest.approx(sum(head_cls[i * C:(i + 1) * C]) / C, rel=1e-4)
        assert c["reg_mean"][i] == pytest.approx(sum(head_reg[i * C:(i + 1) * C]) / C, rel=1e-4)


def test_lr_schedule_and_clipping_in_the_name_reach_the_config(tiny_voc, tmp_path):
    base = build_config("retinanet_r18w16_mini_l1_base", data_root=tiny_voc, setting=MiniSetting(iters=600), work_dir=str(tmp_path))
    cfg = build_config("retinanet_r18w16_mini_l1_base_lr0.04_it1200_noclip", data_root=tiny_voc, setting=MiniSetting(iters=600),
                       work_dir=str(tmp_path))
    assert base.optim_wrapper.optimizer.lr == 0.02 and cfg.optim_wrapper.optimizer.lr == 0.04
    assert base.train_cfg.max_iters == 600 and cfg.train_cfg.max_iters == 1200
    assert [s.get("milestones") for s in cfg.param_scheduler][1] == [800, 1100]  # the 1x shape on the longer schedule
    assert base.optim_wrapper.clip_grad["max_norm"] == 10.0 and cfg.optim_wrapper.clip_grad["max_norm"] == float("inf")
    det = build_config("retinanet_r18w16_mini_l1_alwa2_detrend", data_root=tiny_voc, setting=MiniSetting(), work_dir=str(tmp_path))
    (hook,) = [h for h in det.custom_hooks if h["type"] == "ALWAHook"]
    assert hook["stat"] == "detrended" and hook["mode"] == "alwa2"
    with pytest.raises(ValueError, match="mini setting"):
        build_config("retinanet_r50_voc_l1_base_it1200")


# ------------------------------------------------------------------ the hook under bad input (issue 17, hook)
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


# ------------------------------------------------------------------ the GPU check of ALWA inside mmdet (issue 20)
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
        f"test_mmdet.py:{syncing_call.__code__.co_firstlineno + 3}")
    assert any("alwa/mmdet/hook.py" in f for f in err["stack"]) and err["call"] == 1


@pytest.mark.slow
def test_the_mmdet_gpu_check_runs_on_a_cpu_without_its_sync_checks(tiny_voc):
    from alwa.bench import gpu_mmdet as gpu_check

    r = gpu_check.run(tiny_voc, device="cpu", blocks=2, steps=2)
    assert r["sync_check"] is None and r["passed"] is None and r["device"] == "cpu"
    assert r["alwa_calls"] == 4 and r["ratio_ci95"][0] <= r["ratio"] <= r["ratio_ci95"][1]


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
