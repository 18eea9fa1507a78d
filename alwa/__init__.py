"""alwa: Adaptive Loss Weight Adjustment for object detection, reproduced.

Layers, each importing only those below it (an import-linter contract in ``pyproject.toml``, run by ``make test``)::

    alwa.cli        one command: alwa sweep | status | archive | study | book | data | bench | gpu-check | env-check
    alwa.book       execute the notebooks, build the book
    alwa.report     figures, tables, notebook helpers, generated pages
    alwa.bench      benchmarks and GPU checks
    alwa.analysis   statistics, summaries, claims
    alwa.runs       profiles, specs, the result store, the sweep
    alwa.mmdet      the MMDetection 3.x adapter (ALWAHook)
    alwa.data       the synthetic mini VOC, downloads, checks
    alwa.core       the weighter, box shifting, the name grammar, typed settings: torch and the standard library

``from alwa import ALWA`` (and the other weightings: ``UncertaintyWeighting``, ``DWA``, ``RLW``) needs torch alone.
"""

from alwa.core import __version__
from alwa.core.weighter import ALWA, WindowStats
from alwa.core.weightings import DWA, RLW, UncertaintyWeighting

__all__ = ["ALWA", "DWA", "RLW", "UncertaintyWeighting", "WindowStats", "__version__"]
