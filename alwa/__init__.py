"""alwa: Adaptive Loss Weight Adjustment for object detection, reproduced.

The core (this package outside :mod:`alwa.mmdet`) is plain PyTorch and never
imports mmdet, mmcv or mmengine.
"""

from .weighter import ALWA, WindowStats

__all__ = ["ALWA", "WindowStats", "__version__"]
__version__ = "0.1.0"
