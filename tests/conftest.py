import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # reference.py, toy_worker.py for the tests in every sub-folder
# The package finds nothing through its own location: profiles, book sources and data are relative to the current
# folder (the checkout's root), as for the `alwa` command. The tests run there wherever pytest was started.
os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pytest


@pytest.fixture(scope="session")
def smoke_results_root(tmp_path_factory):
    """One results folder for every smoke execution in a test session: the
    notebooks' sweeps run once and later executions reuse them (as `make book` does)."""
    return tmp_path_factory.mktemp("smoke_results")


@pytest.fixture(scope="module")
def tiny_voc(tmp_path_factory):
    """A synthetic VOC set of 16 training and 4 test images (its VOCdevkit folder, with a trailing slash)."""
    from alwa.data import synthetic

    root = tmp_path_factory.mktemp("tiny_voc")
    synthetic.generate(root, synthetic.MiniVOCOptions(n_trainval=16, n_test=4, seed=1), workers=1, progress=False)
    return str(root / "VOCdevkit") + "/"
