"""Analysis of run records: statistics (:mod:`~alwa.core.stats`), per-experiment summaries
(:mod:`~alwa.analysis.summaries`), the claims C1-C11 (:mod:`~alwa.analysis.claims`) and the learning-rate study
(:mod:`~alwa.analysis.lrstudy`). Numbers in, records out; nothing here draws or writes pages."""
