"""Run-time fixes for mmengine 0.10.7 under torch >= 2.6 (applied on import of alwa.mmdet).

* ``weights_only``: torch 2.6 changed ``torch.load``'s default to
  ``weights_only=True``. mmengine 0.10.7 calls ``torch.load(filename,
  map_location=...)`` and its checkpoints hold pickled Python objects
  (message hub, numpy scalars, the config), so ``resume=True`` fails with an
  ``UnpicklingError`` (mmengine issue 1655). We re-register mmengine's loader
  for local files with ``weights_only=False``. Only mmengine's own checkpoint
  loads change; load only checkpoints you trust, as with any pickle.
* CPU distributed training: mmengine's ``launcher='pytorch'`` calls
  ``torch.cuda.set_device`` unconditionally; on a machine without CUDA we skip
  that call so that ``gloo`` runs work (used by the tests; set
  ``env_cfg.dist_cfg.backend='gloo'`` and
  ``model_wrapper_cfg=dict(type='MMDistributedDataParallel', device_ids=None)``).
* ``pkg_resources``: mmengine imports it at run time; setuptools < 82 must be
  installed (checked here with a clear error instead of a bare ImportError
  deep inside mmengine).
"""

from __future__ import annotations

import os.path as osp

import torch

_PATCHED = False


def _load_from_local_trusted(filename, map_location):
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f"{filename} can not be found.")
    return torch.load(filename, map_location=map_location, weights_only=False)


def apply() -> None:
    """Idempotently install the fixes."""
    global _PATCHED
    if _PATCHED:
        return
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # its own deprecation notice
            import pkg_resources  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "mmengine 0.10.7 needs pkg_resources at run time: install setuptools<82 (pip install 'setuptools<82')"
        ) from e
    from mmengine.runner.checkpoint import CheckpointLoader

    CheckpointLoader.register_scheme(prefixes="", loader=_load_from_local_trusted, force=True)

    import mmengine.dist.utils as dist_utils

    original = dist_utils._init_dist_pytorch
    if not getattr(original, "_alwa_cpu_safe", False):

        def _init_dist_pytorch(backend, init_backend="torch", **kwargs):
            if torch.cuda.is_available():
                return original(backend, init_backend=init_backend, **kwargs)
            torch.distributed.init_process_group(backend=backend, **kwargs)

        _init_dist_pytorch._alwa_cpu_safe = True
        dist_utils._init_dist_pytorch = _init_dist_pytorch
    _PATCHED = True
