"""alwa.runs.cluster: the executor a sweep hands its runs to."""


def test_slurm_options_reach_the_executor(tmp_path, monkeypatch):
    import os

    from alwa.runs.cluster import executor_for

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")  # submitit looks for srun
    ex = executor_for(tmp_path, "slurm", {"partition": "gpu", "time_min": 90, "gpus_per_job": 2, "mem_gb": 32,
                                          "extra": {"constraint": "a100"}}, threads=4)
    p = ex._executor.parameters
    assert (p["partition"], p["time"], p["gpus_per_node"], p["mem"], p["constraint"]) == ("gpu", 90, 2, "32GB", "a100")
