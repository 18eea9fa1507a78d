import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # reference.py, toy_worker.py for the tests in every sub-folder
# The package finds nothing through its own location: profiles, book sources and data are relative to the current
# folder (the checkout's root), as for the `alwa` command. The tests run there wherever pytest was started.
os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def smoke_results_root(tmp_path_factory):
    """One results folder for every smoke execution in a test session, prepared as `alwa book` prepares it before
    the notebooks run (alwa.book.prepare: the smoke runs, the lr study, the benchmarks, the claim store): the
    runs are made once and every later execution reads them."""
    from alwa.book.prepare import prepare
    from alwa.runs.profile import load_profile

    root = tmp_path_factory.mktemp("smoke_results")
    prepare(load_profile("smoke", results_root=str(root)), None, source=str(ROOT))
    return root


@pytest.fixture(scope="module")
def tiny_voc(tmp_path_factory):
    """A synthetic VOC set of 16 training and 4 test images (its VOCdevkit folder, with a trailing slash)."""
    from alwa.data import synthetic

    root = tmp_path_factory.mktemp("tiny_voc")
    synthetic.generate(root, synthetic.MiniVOCOptions(n_trainval=16, n_test=4, seed=1), workers=1, progress=False)
    return str(root / "VOCdevkit") + "/"
