"""Runs: the profile (:mod:`~alwa.runs.profile`), the run specs of each notebook (:mod:`~alwa.runs.specs`), the result
store (:mod:`~alwa.runs.store`), one run in its own process (:mod:`~alwa.runs.worker`), the resumable sweep
(:mod:`~alwa.runs.sweep`) and its SLURM executor (:mod:`~alwa.runs.cluster`), and the learning-rate study's plan
(:mod:`~alwa.runs.study`). No mmdet import: the run function is named by its import path."""
