import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pytest


@pytest.fixture(scope="session")
def smoke_results_root(tmp_path_factory):
    """One results folder for every smoke execution in a test session: the
    notebooks' sweeps run once and later executions reuse them (as `make book` does)."""
    return tmp_path_factory.mktemp("smoke_results")
