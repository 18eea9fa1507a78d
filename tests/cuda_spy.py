"""Preloaded first by a test's forkserver: records each torch.cuda.is_available / torch.cuda.init call of the
preload, with the NVML-check setting in force then, to the file named by ALWA_CUDA_SPY."""
import json
import os

import torch

_available, _init = torch.cuda.is_available, torch.cuda.init


def _note(fn):
    with open(os.environ["ALWA_CUDA_SPY"], "a") as f:
        f.write(json.dumps({"fn": fn, "pid": os.getpid(), "nvml": os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK")}) + "\n")


def is_available():
    _note("is_available")
    return _available()


def init():
    _note("init")
    return _init()


torch.cuda.is_available, torch.cuda.init = is_available, init
