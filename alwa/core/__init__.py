"""The core: the weighter (:mod:`~alwa.core.weighter`), box shifting (:mod:`~alwa.core.boxshift`), the experiment-name
grammar (:mod:`~alwa.core.experiment`), the typed run settings (:mod:`~alwa.core.settings`) and result files
(:mod:`~alwa.core.files`). Plain PyTorch (torchvision for box shifting) and the standard library: no mmdet, mmcv or mmengine."""

__version__ = "0.1.0"
