"""The studies declared on the one engine (:mod:`alwa.runs.engine`), by the name ``alwa study --study`` takes."""

from __future__ import annotations

from alwa.runs import best, settle, study
from alwa.runs.engine import Study

# name: (the declaration, its plans per profile)
STUDIES = {"lr": (study.LrStudy, study.PLANS), "settle": (settle.SettleStudy, settle.SETTLE_PLANS),
           "best": (best.BestStudy, best.BEST_PLANS)}
WHAT = {"lr": "learning-rate study", "settle": "settling study", "best": "best-against-best study"}


def study_for(name: str, profile: str) -> Study:
    """The study ``name`` declared for ``profile``; ValueError naming what is planned where it is not."""
    if name not in STUDIES:
        raise ValueError(f"no study named {name!r}; studies: {', '.join(STUDIES)}")
    cls, plans = STUDIES[name]
    if profile not in plans:
        raise ValueError(f"no {WHAT[name]} is planned for profile {profile!r} (planned: {', '.join(sorted(plans))})")
    return cls(plans[profile])
