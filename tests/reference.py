"""A straightforward transcription of the authors' procedure, for tests.

Plain Python/numpy, one ``.item()``-style float per level, as described in
``shared/paper/official-implementation.md``: weighted per-level losses are
summed per task and appended to two history lists; when
``len(history) % C == 0`` the mean and sample std (ddof=1) are taken, the
histories emptied, and ``cls_weight = 1 - (CLS - REG) / CLS`` if CLS > REG.
"""

import numpy as np


class AuthorsReference:
    def __init__(self, mode="alwa2", C=100, cls_weight=1.0, bbox_weight=1.0):
        self.mode, self.C = mode, C
        self.cls_weight, self.bbox_weight = cls_weight, bbox_weight
        self.cls_hist, self.bbox_hist = [], []
        self.trajectory = []

    def step(self, cls_levels, bbox_levels):
        """cls_levels/bbox_levels: lists of Python floats (one per level)."""
        cls_w = [self.cls_weight * v for v in cls_levels]
        bbox_w = [self.bbox_weight * v for v in bbox_levels]
        self.cls_hist.append(sum(cls_w))
        self.bbox_hist.append(sum(bbox_w))
        if len(self.cls_hist) % self.C == 0:
            cm, cs = np.mean(self.cls_hist), np.std(self.cls_hist, ddof=1)
            bm, bs = np.mean(self.bbox_hist), np.std(self.bbox_hist, ddof=1)
            self.cls_hist, self.bbox_hist = [], []
            if self.mode == "alwa1":
                cls, reg = cm + cs, bm + bs
            else:
                cls, reg = cs, bs
            if cls > reg:
                self.cls_weight = 1 - (cls - reg) / cls
            self.trajectory.append(self.cls_weight)
        return cls_w, bbox_w
