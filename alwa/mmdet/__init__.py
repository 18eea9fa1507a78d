"""ALWA for MMDetection 3.x, switched on by configuration.

Importing this module (``custom_imports=dict(imports=['alwa.mmdet'])``)
registers :class:`ALWAHook` and applies the mmengine compatibility fixes of
:mod:`alwa.mmdet.compat`.
"""

from alwa.mmdet import compat

compat.apply()

from alwa.mmdet.hook import ALWAHook  # noqa: E402
from alwa.mmdet.hooks_config import with_alwa  # noqa: E402

__all__ = ["ALWAHook", "with_alwa"]
