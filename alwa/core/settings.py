"""The typed settings of a run, shared by the data layer, the mmdet adapter and the profile loader.

Plain dataclasses with no dependency beyond the standard library, so a profile can be checked against
them (:mod:`alwa.runs.profile`) without importing mmdet, mmcv, mmengine or PIL:

- :class:`MiniVOCOptions`: size and difficulty of the synthetic mini VOC set (:mod:`alwa.data.synthetic`);
- :class:`MiniSetting`: the mini detectors' training schedule and architecture (:mod:`alwa.mmdet.configs`);
- :class:`PretrainOptions`: the backbone pre-training on crops of the set (:mod:`alwa.mmdet.pretrain`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

CLASSES = ("disc", "box", "triangle", "cross", "star", "ring", "hexagon")
TEXTURES = ("solid", "stripes", "checker", "dots", "gradient")
DEFAULT_TEXTURES = ("solid", "stripes", "gradient")

# The numerics of a mini run: every run record carries it (``record['fingerprints']['setting_version']``), and runs
# of different versions are never paired or pooled. "v1": float32 on CPU, one torch thread per run, the published
# setting. A change that alters the numbers of a run (a lower precision, another evaluation) names a new version.
SETTING_VERSION = "v1"


@dataclass
class MiniVOCOptions:
    """Size and difficulty of the synthetic dataset.

    The defaults are the calibrated mini setting's except ``classes``: all 7 here, while the
    published cpu profile keeps 3 (disc, box, triangle; ``notebooks/params/cpu.yaml``, key
    ``dataset``), with which its baselines reach the target mAP within the time budget."""

    n_trainval: int = 1200
    n_test: int = 300
    seed: int = 0
    image_size: tuple[int, int] = (160, 320)
    scale_range: tuple[float, float] = (20.0, 160.0)
    aspect_range: tuple[float, float] = (1 / 3, 3.0)
    max_objects: int = 5
    min_objects: int = 1
    distractors: tuple[int, int] = (0, 2)
    clutter: float = 0.5  # 0 = clean background, 1 = heavy clutter
    textures: tuple[str, ...] = DEFAULT_TEXTURES
    colour_bias: float = 0.0  # probability that an object's first colour is its class's home colour
    jpeg_quality: int = 90
    classes: tuple[str, ...] = field(default=CLASSES)

    def __post_init__(self):
        self.image_size = tuple(self.image_size)
        self.scale_range = tuple(self.scale_range)
        self.aspect_range = tuple(self.aspect_range)
        self.distractors = tuple(self.distractors)
        self.classes = tuple(self.classes)
        self.textures = tuple(self.textures)
        if not self.textures or set(self.textures) - set(TEXTURES):
            raise ValueError(f"textures must be a non-empty subset of {TEXTURES}, got {self.textures}")
        unknown = set(self.classes) - set(CLASSES)
        if unknown:
            raise ValueError(f"unknown classes {sorted(unknown)}; available: {CLASSES}")
        if len(self.classes) < 1:
            raise ValueError("need at least one class")
        if not (0.0 <= self.colour_bias < 1.0):
            raise ValueError(f"colour_bias must be in [0, 1) so that colour alone never identifies a class, got {self.colour_bias}")
        if not (0 < self.image_size[0] <= self.image_size[1]):
            raise ValueError(f"image_size must be (min, max) with 0 < min <= max, got {self.image_size}")
        if not (4 <= self.scale_range[0] <= self.scale_range[1]):
            raise ValueError(f"scale_range must be (min, max) with 4 <= min <= max, got {self.scale_range}")
        if self.n_trainval < 1 or self.n_test < 1:
            raise ValueError("n_trainval and n_test must be >= 1")
        if not (1 <= self.min_objects <= self.max_objects):
            raise ValueError("need 1 <= min_objects <= max_objects")


@dataclass
class MiniSetting:
    """The mini reproduction: tiny ResNet-18/4 + FPN on the synthetic set, SGD as in the paper.

    Tuned on 2 cores; every tuning run is in ``book/data/tuning_runs.yaml``. Where a
    default departs from the paper's detector (Kaiming-initialised GroupNorm head convs,
    2 of them, 64 channels), the comment says so. The published cpu profile overrides
    ``iters`` (RetinaNet 600, Faster R-CNN 400) and ``classes`` (3) in ``notebooks/params/cpu.yaml``."""

    iters: int = 700
    batch_size: int = 8
    lr: float = 0.02
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_iters: int = 100
    grad_clip: Optional[float] = 10.0
    img_scale: tuple[int, int] = (160, 160)
    base_channels: int = 16
    fpn_channels: int = 64
    stacked_convs: int = 2
    octave_base_scale: int = 2
    scales_per_octave: int = 3  # RetinaNet anchors per octave (the paper: 3)
    anchor_ratios: tuple = (0.5, 1.0, 2.0)  # RetinaNet and RPN anchor aspect ratios (the paper: 0.5, 1, 2)
    frozen_stages: int = -1  # backbone stages kept at their pre-trained weights (-1: none; the paper: 1)
    norm_eval: bool = False  # backbone BatchNorm statistics and affine kept as pre-trained (the paper: True)
    roi_samples: int = 64  # Faster R-CNN: RoIs sampled per image for the RoI head (the paper: 512)
    roi_fc: int = 128  # Faster R-CNN: width of the RoI head's two shared fc layers (the paper: 1024)
    rpn_proposals: int = 150  # Faster R-CNN: proposals per image kept for training (the paper: 1000)
    rpn_nms_pre: int = 1000  # Faster R-CNN: top RPN boxes per level before the proposal NMS (the paper: 2000 train, 1000 test)
    roi_sampling_ratio: int = 0  # Faster R-CNN: RoIAlign sample points per bin side (0: adaptive, the paper)
    head_init: str = "kaiming"  # RetinaNet head convs: "normal" (std 0.01, the paper) or "kaiming" (tuning runs)
    head_norm: Optional[str] = "GN"  # GroupNorm in the RetinaNet head's stacked convs (None: none, the paper)
    pretrained: Optional[str] = None  # backbone checkpoint (see alwa.mmdet.pretrain)
    pretrained_neck: bool = False  # the checkpoint holds the FPN too (PretrainOptions.neck = fpn_channels)
    num_workers: int = 0
    val_interval: Optional[int] = None  # None: evaluate once, at the end
    interval: Optional[int] = None  # ALWA window C for names without _C (None: the paper's 100)
    classes: tuple = CLASSES


@dataclass
class PretrainOptions:
    base_channels: int = 16
    crop: int = 48
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    background_per_image: int = 2
    seed: int = 0
    # torch threads of the pre-training: fixed, since the float sums (and so the checkpoint) depend on it; None took
    # the calling process's count, and one cache key then named different checkpoints (see alwa.mmdet.pretrain)
    threads: Optional[int] = 1
    sizes: tuple = (24, 32, 48, 64)  # crop sizes (px), one drawn per batch; () = always ``crop``
    deep: bool = True  # a linear classifier on each of C3, C4, C5 (pooled), losses summed
    neck: int = 0  # > 0: pre-train the detector's FPN too (this many channels); classify from P3-P5
