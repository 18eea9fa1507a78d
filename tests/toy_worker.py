"""A stand-in experiment for the sweep tests (no training)."""
import os
import time


def run(spec):
    time.sleep(spec.get("sleep", 0.0))
    if spec.get("talk"):
        print(f"hello from {spec['name']}", flush=True)
        os.write(2, b"a warning written straight to fd 2\n")
    if spec.get("fail"):
        raise RuntimeError(f"boom in {spec['name']}")
    return {"name": spec["name"], "seed": spec["seed"], "mAP": 0.5 + 0.01 * spec["seed"], "pid": os.getpid(),
            "threads": os.environ.get("OMP_NUM_THREADS")}
