"""Configs for the paper's experiments and for the mini (cpu) reproduction.

Built by composition from mmdet's own base configs (shipped inside the mmdet
package), never copied. A config is named by an :class:`alwa.core.experiment.Experiment`
(the grammar is documented there)::

    {detector}_{backbone}_{dataset}_{regloss}_{weighting}[_C{C}][_init{w}][_detrend][_lr{lr}][_it{iters}][_noclip]

e.g. ``retinanet_r50_voc_l1_alwa2``, ``faster-rcnn_r50_voc_ciou_alwa2_C200``,
``retinanet_r18w16_mini_l1_w0.50-0.75``. :func:`build_config` turns a name
into an :class:`mmengine.Config`; :func:`paper_experiments` lists every name
the paper's tables need.

Paper settings (section 4.1): VOC: train VOC2012 trainval, test VOC2007
test, 1000x600, COCO 2017 train/val 1333x800; 1x schedule (12 epochs, lr x0.1
after epochs 8 and 11), SGD momentum 0.9, weight decay 1e-4, 8 images per
iteration (``gpus x batch_per_gpu``), lr 0.01 RetinaNet / 0.02 Faster & Mask
R-CNN. **Learning-rate scaling:** with another total batch B, use
``lr = base_lr * B / 8`` (linear rule), or set ``auto_scale_lr=True`` to let
mmengine do it from the actual number of GPUs and ``batch_per_gpu``.

Where ALWA acts: RetinaNet's ``bbox_head``; the ``rpn_head`` of Faster/Mask
R-CNN, as in the paper. The regression loss named is used in that head
(``reg_loss_heads='alwa'``, default) or in every box head (``'all'``).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Optional

import mmdet
from mmengine.config import Config, ConfigDict

MMDET_CONFIGS = Path(mmdet.__file__).resolve().parent / ".mim" / "configs"
from alwa.core.settings import MiniSetting  # noqa: F401 - the typed setting lives there
from alwa.core.experiment import BACKBONES, DATASETS, DETECTORS, OTHER_WEIGHTINGS, REG_LOSSES, Experiment  # noqa: F401 - the name grammar lives there
BASE_LR = {"retinanet": 0.01, "faster-rcnn": 0.02, "mask-rcnn": 0.02}
PAPER_BATCH = 8

# ------------------------------------------------------------------ pieces
def reg_loss_cfg(kind: str, loss_weight: float = 1.0, beta: float = 1.0) -> dict:
    """mmdet loss config for a regression loss; IoU losses need reg_decoded_bbox=True on the head."""
    if kind == "l1":
        return dict(type="L1Loss", loss_weight=loss_weight)
    if kind == "smoothl1":
        return dict(type="SmoothL1Loss", beta=beta, loss_weight=loss_weight)
    if kind == "giou":
        return dict(type="GIoULoss", loss_weight=loss_weight)
    if kind == "ciou":
        return dict(type="CIoULoss", loss_weight=loss_weight)
    raise ValueError(f"unknown regression loss {kind!r}; expected one of {REG_LOSSES}")


def set_reg_loss(head: dict, kind: str, beta: float = 1.0) -> None:
    """Swap a head's ``loss_bbox`` keeping its loss_weight; IoU losses decode boxes."""
    w = head.get("loss_bbox", {}).get("loss_weight", 1.0)
    head["loss_bbox"] = reg_loss_cfg(kind, w, beta)
    head["reg_decoded_bbox"] = kind in ("giou", "ciou")


def alwa_head_path(detector: str) -> str:
    return "bbox_head" if detector == "retinanet" else "rpn_head"


def _head(model: dict, path: str) -> dict:
    node = model
    for p in path.split("."):
        node = node[p]
    return node


def set_weighting(cfg: Config, exp: Experiment, alwa_options: Optional[dict] = None, setting_c: Optional[int] = None) -> None:
    """Fixed weights go into the ALWA head's loss weights; ALWA (or the
    statistics-only 'monitor' mode for baselines and fixed weights) is the hook, with the window
    ``exp.window(setting_c)`` (the experiment's ``_C``, else the setting's C, else the paper's 100)."""
    path = alwa_head_path(exp.detector)
    c = exp.window(setting_c)
    head = _head(cfg.model, path)
    opts = dict(alwa_options or {})
    if exp.detrend:
        opts["stat"] = "detrended"
    if exp.weighting == "fixed":
        head["loss_cls"]["loss_weight"] = exp.cls_weight
        head["loss_bbox"]["loss_weight"] = exp.reg_weight
        hook = dict(type="ALWAHook", head=path, mode="monitor", interval=c, **opts)
    elif exp.weighting == "base":
        hook = dict(type="ALWAHook", head=path, mode="monitor", interval=c, **opts)
    elif exp.weighting in OTHER_WEIGHTINGS:  # alwa.core.weightings: the window C is DWA's and every one's record's
        hook = dict(type="ALWAHook", head=path, weighting=exp.weighting, interval=c)
    else:
        hook = dict(type="ALWAHook", head=path, mode=exp.weighting, interval=c,
                    cls_weight=exp.cls_weight, reg_weight=exp.reg_weight, **opts)
    cfg.custom_imports = dict(imports=["alwa.mmdet"], allow_failed_imports=False)
    hooks = [h for h in cfg.get("custom_hooks", []) if h.get("type") != "ALWAHook"]
    cfg.custom_hooks = hooks + [hook]


def _finish(cfg: Config, exp: Experiment, work_dir: Optional[str]) -> None:
    cfg.work_dir = work_dir or f"work_dirs/{exp.name}"
    cfg.alwa_experiment = exp.name
    # mmengine keys its logger, message hub and visualizer instances by name: a fixed
    # name would make a second run in the same process write into the first one's files
    cfg.get("visualizer", {}).pop("name", None)


# ------------------------------------------------------------------ paper configs
def _paper_base(exp: Experiment) -> Config:
    if exp.dataset == "voc":
        if exp.detector == "mask-rcnn":
            raise ValueError("Mask R-CNN needs masks: the paper runs it on COCO only")
        rel = {"retinanet": "pascal_voc/retinanet_r50_fpn_1x_voc0712.py",
               "faster-rcnn": "pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py"}[exp.detector]
    else:
        depth = "r101" if exp.backbone == "r101" else "r50"
        rel = {"retinanet": f"retinanet/retinanet_{depth}_fpn_1x_coco.py",
               "faster-rcnn": f"faster_rcnn/faster-rcnn_{depth}_fpn_1x_coco.py",
               "mask-rcnn": f"mask_rcnn/mask-rcnn_{depth}_fpn_1x_coco.py"}[exp.detector]
    return Config.fromfile(str(MMDET_CONFIGS / rel))


def paper_config(exp: Experiment, data_root: Optional[str] = None, gpus: int = 4, batch_per_gpu: int = 2,
                 auto_scale_lr: bool = False, work_dir: Optional[str] = None, seed: Optional[int] = 0,
                 alwa_options: Optional[dict] = None) -> Config:
    """The paper's setting for ``exp`` (VOC or COCO)."""
    if exp.backbone not in ("r50", "r101"):
        raise ValueError(f"paper configs use r50 or r101, got {exp.backbone!r}")
    cfg = _paper_base(exp)
    model = cfg.model
    if exp.backbone == "r101":
        model.backbone.depth = 101
        model.backbone.init_cfg = dict(type="Pretrained", checkpoint="torchvision://resnet101")
    if exp.dataset == "voc":
        root = data_root or "data/VOCdevkit/"
        train_ds = dict(type="VOCDataset", data_root=root, ann_file="VOC2012/ImageSets/Main/trainval.txt",
                        data_prefix=dict(sub_data_root="VOC2012/"),
                        filter_cfg=dict(filter_empty_gt=True, min_size=32, bbox_min_size=32),
                        pipeline=cfg.train_pipeline, backend_args=None)
        cfg.train_dataloader.dataset = train_ds  # VOC2012 trainval only, no repeat (paper)
        for key in ("val_dataloader", "test_dataloader"):
            cfg[key].dataset.data_root = root
        cfg.val_evaluator = dict(type="VOCMetric", metric="mAP", eval_mode="11points")
        cfg.test_evaluator = cfg.val_evaluator
        cfg.train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=12, val_interval=12)
        cfg.param_scheduler = [
            dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=500),
            dict(type="MultiStepLR", begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
        ]
    elif data_root:
        for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
            cfg[key].dataset.data_root = data_root
        for key in ("val_evaluator", "test_evaluator"):
            cfg[key].ann_file = data_root.rstrip("/") + "/annotations/instances_val2017.json"
    cfg.train_dataloader.batch_size = batch_per_gpu
    if exp.iters is not None:
        raise ValueError(f"{exp.name}: _it (a schedule in iterations) applies to the mini setting; the paper's is 12 epochs")
    cfg.optim_wrapper.optimizer.lr = exp.lr if exp.lr is not None else BASE_LR[exp.detector]
    if not exp.clip:
        cfg.optim_wrapper.clip_grad = None
    cfg.auto_scale_lr = dict(enable=auto_scale_lr, base_batch_size=PAPER_BATCH)
    cfg.gpu_ids = list(range(gpus))
    path = alwa_head_path(exp.detector)
    set_reg_loss(_head(model, path), exp.reg_loss)
    set_weighting(cfg, exp, alwa_options)
    cfg.randomness = dict(seed=seed, deterministic=False)
    _finish(cfg, exp, work_dir)
    return cfg


WEIGHT_PAIRS_TABLE1 = ["0.10:0.10", "0.25:0.25", "0.25:0.50", "0.50:0.25", "0.50:0.50", "0.50:0.75",
                       "0.75:0.50", "0.75:0.75", "1.50:1.50", "2.00:2.00"]
WEIGHT_PAIRS_TABLE5 = ["0.10:0.50", "0.10:0.75", "0.25:0.25", "0.25:0.50", "0.25:0.75", "0.50:0.25",
                       "0.50:0.50", "0.50:0.75", "0.75:0.75"]


def _pair(p: str) -> tuple[float, float]:
    a, b = p.split(":")
    return float(a), float(b)


def paper_experiments() -> dict[str, list[Experiment]]:
    """Every experiment of tables 1-8, by table."""
    losses = ("l1", "smoothl1", "ciou")
    E = Experiment
    t = {}
    t["table1"] = [E("retinanet", "r50", "voc", l, "base") for l in losses] + [
        E("retinanet", "r50", "voc", l, "fixed", *_pair(p)) for p in WEIGHT_PAIRS_TABLE1 for l in losses]
    t["table2"] = [E("retinanet", bb, "voc", l, w) for bb in ("r50", "r101") for w in ("base", "alwa1", "alwa2") for l in losses]
    t["table3"] = [E("faster-rcnn", "r50", "voc", l, w) for w in ("base", "alwa1", "alwa2") for l in losses]
    t["table4"] = [E("faster-rcnn", "r50", "coco", l, w) for w in ("base", "alwa1", "alwa2") for l in losses]
    t["table5"] = [E("faster-rcnn", "r50", "coco", "l1", "base")] + [
        E("faster-rcnn", "r50", "coco", "l1", "fixed", *_pair(p)) for p in WEIGHT_PAIRS_TABLE5]
    t["table6"] = [E("mask-rcnn", bb, "coco", l, w) for bb, l in (("r50", "l1"), ("r50", "ciou"), ("r101", "smoothl1"))
                   for w in ("base", "alwa1", "alwa2")]
    t["table7"] = [E("faster-rcnn", "r50", "voc", l, "alwa2", interval=None if c == 100 else c)
                   for c in (20, 100, 200, 500) for l in losses]
    t["table8"] = [E("faster-rcnn", "r50", "voc", l, "alwa2", w, w) for w in (0.5, 0.75, 1.25, 1.5) for l in losses]
    return t


def build_config(experiment: "Experiment | str", **kwargs) -> Config:
    """Config for an :class:`Experiment` (or its name); ``dataset=mini`` goes to :func:`mini_config`."""
    exp = Experiment.of_name(experiment)
    if exp.dataset == "mini":
        return mini_config(exp, **kwargs)
    return paper_config(exp, **kwargs)


# ------------------------------------------------------------------ mini (cpu) configs


def mini_config(exp: Experiment, data_root: str = "data/mini_voc/VOCdevkit/", setting: Optional[MiniSetting] = None,
                work_dir: Optional[str] = None, seed: int = 0, deterministic: bool = True,
                alwa_options: Optional[dict] = None) -> Config:
    """The same mmdet code path at mini scale (cpu profile).

    Starts from the paper's VOC config of the detector and shrinks the model,
    images and schedule; the synthetic set has the same VOC layout, so only
    ``data_root`` and the class list differ from :func:`paper_config`."""
    st = setting or MiniSetting()
    if exp.lr is not None:
        st = replace(st, lr=exp.lr)
    if exp.iters is not None:
        st = replace(st, iters=int(exp.iters))
    if not exp.clip:
        st = replace(st, grad_clip=None)
    paper = replace(exp.baseline(), backbone="r50", dataset="voc", lr=None, iters=None, clip=True)
    if exp.detector == "mask-rcnn":
        raise ValueError("the mini set has no masks: use retinanet or faster-rcnn")
    cfg = _paper_base(paper)
    classes = tuple(st.classes)
    model = cfg.model
    w = st.base_channels
    model.backbone = dict(type="ResNet", depth=18, base_channels=w, num_stages=4, out_indices=(1, 2, 3),
                          frozen_stages=st.frozen_stages, norm_cfg=dict(type="BN", requires_grad=not st.norm_eval),
                          norm_eval=st.norm_eval, style="pytorch",
                          init_cfg=dict(type="Pretrained", checkpoint=st.pretrained) if st.pretrained else None)
    model.neck = dict(type="FPN", in_channels=[2 * w, 4 * w, 8 * w], out_channels=st.fpn_channels, start_level=0,
                      add_extra_convs=False, num_outs=3)
    if st.pretrained and st.pretrained_neck:
        model.neck["init_cfg"] = dict(type="Pretrained", checkpoint=st.pretrained, prefix="neck.")
    strides = [8, 16, 32]
    if exp.detector == "retinanet":
        h = model.bbox_head
        h.num_classes = len(classes)
        h.in_channels = h.feat_channels = st.fpn_channels
        h.stacked_convs = st.stacked_convs
        h.anchor_generator.octave_base_scale = st.octave_base_scale
        h.anchor_generator.scales_per_octave = st.scales_per_octave
        h.anchor_generator.ratios = list(st.anchor_ratios)
        h.anchor_generator.strides = strides
        if st.head_init == "kaiming":  # the stacked convs; retina_cls keeps std 0.01 and the prior bias
            h.init_cfg = dict(type="Kaiming", layer="Conv2d", a=0, mode="fan_in", nonlinearity="relu", distribution="normal",
                              override=[dict(type="Normal", name="retina_cls", std=0.01, bias_prob=0.01),
                                        dict(type="Normal", name="retina_reg", std=0.01)])
        elif st.head_init != "normal":
            raise ValueError(f"head_init must be 'normal' or 'kaiming', got {st.head_init!r}")
        if st.head_norm == "GN":
            h.norm_cfg = dict(type="GN", num_groups=16, requires_grad=True)
    else:
        r = model.rpn_head
        r.in_channels = r.feat_channels = st.fpn_channels
        r.anchor_generator.scales = [st.octave_base_scale, st.octave_base_scale * 2]  # 16-128 px at strides 8-32
        r.anchor_generator.strides = strides
        r.anchor_generator.ratios = list(st.anchor_ratios)
        roi = model.roi_head
        roi.bbox_roi_extractor.out_channels = st.fpn_channels
        roi.bbox_roi_extractor.featmap_strides = strides
        roi.bbox_head.in_channels = st.fpn_channels
        roi.bbox_head.fc_out_channels = st.roi_fc
        roi.bbox_head.num_classes = len(classes)
        roi.bbox_roi_extractor.roi_layer.sampling_ratio = st.roi_sampling_ratio
        model.train_cfg.rpn_proposal = dict(nms_pre=st.rpn_nms_pre, max_per_img=st.rpn_proposals, nms=dict(type="nms", iou_threshold=0.7),
                                            min_bbox_size=0)
        model.train_cfg.rcnn.sampler.num = st.roi_samples
        model.test_cfg.rpn = dict(nms_pre=min(500, st.rpn_nms_pre), max_per_img=200, nms=dict(type="nms", iou_threshold=0.7), min_bbox_size=0)
    set_reg_loss(_head(model, alwa_head_path(exp.detector)), exp.reg_loss)

    train_pipeline = [
        dict(type="LoadImageFromFile"),
        dict(type="LoadAnnotations", with_bbox=True),
        dict(type="Resize", scale=st.img_scale, keep_ratio=True),
        dict(type="RandomFlip", prob=0.5),
        dict(type="PackDetInputs"),
    ]
    test_pipeline = [
        dict(type="LoadImageFromFile"),
        dict(type="Resize", scale=st.img_scale, keep_ratio=True),
        dict(type="LoadAnnotations", with_bbox=True),
        dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
    ]
    meta = dict(classes=classes)

    def ds(ann, sub, pipeline, test):
        d = dict(type="VOCDataset", data_root=data_root, ann_file=ann, data_prefix=dict(sub_data_root=sub),
                 metainfo=meta, pipeline=pipeline, test_mode=test)
        if not test:
            d["filter_cfg"] = dict(filter_empty_gt=True, min_size=4, bbox_min_size=2)
        return d

    persistent = st.num_workers > 0
    cfg.train_dataloader = dict(batch_size=st.batch_size, num_workers=st.num_workers, persistent_workers=persistent,
                                sampler=dict(type="InfiniteSampler", shuffle=True),
                                dataset=ds("VOC2012/ImageSets/Main/trainval.txt", "VOC2012/", train_pipeline, False))
    cfg.val_dataloader = dict(batch_size=8, num_workers=st.num_workers, persistent_workers=persistent, drop_last=False,
                              sampler=dict(type="DefaultSampler", shuffle=False),
                              dataset=ds("VOC2007/ImageSets/Main/test.txt", "VOC2007/", test_pipeline, True))
    cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.val_evaluator = dict(type="VOCMetric", metric="mAP", eval_mode="11points")
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=st.iters, val_interval=st.val_interval or st.iters)
    m1, m2 = round(st.iters * 8 / 12), round(st.iters * 11 / 12)  # the 1x schedule's steps at 8/12 and 11/12
    cfg.param_scheduler = [
        dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=st.warmup_iters),
        dict(type="MultiStepLR", begin=0, end=st.iters, by_epoch=False, milestones=[m1, m2], gamma=0.1),
    ]
    cfg.optim_wrapper = dict(type="OptimWrapper",
                             optimizer=dict(type="SGD", lr=st.lr, momentum=st.momentum, weight_decay=st.weight_decay),
                             # without clipping the norm is still measured (and logged as grad_norm): max_norm=inf scales by 1.0
                             clip_grad=dict(max_norm=st.grad_clip if st.grad_clip else float("inf"), norm_type=2))
    cfg.auto_scale_lr = dict(enable=False, base_batch_size=st.batch_size)
    cfg.default_hooks = dict(
        timer=dict(type="IterTimerHook"),
        logger=dict(type="LoggerHook", interval=50),
        param_scheduler=dict(type="ParamSchedulerHook"),
        checkpoint=dict(type="CheckpointHook", interval=st.iters, by_epoch=False, save_last=True, max_keep_ckpts=1),
        sampler_seed=dict(type="DistSamplerSeedHook"),
        visualization=dict(type="DetVisualizationHook"),
    )
    cfg.log_processor = dict(type="LogProcessor", window_size=20, by_epoch=False)
    cfg.env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0), dist_cfg=dict(backend="gloo"))
    set_weighting(cfg, exp, alwa_options, setting_c=st.interval)  # a C named in the experiment (_C20) wins
    cfg.randomness = dict(seed=seed, deterministic=deterministic)
    _finish(cfg, exp, work_dir)
    return cfg
