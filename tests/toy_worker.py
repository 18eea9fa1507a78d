"""A stand-in experiment for the sweep tests (no training)."""
import os
import signal
import time
from pathlib import Path


def run(spec):
    t0 = time.time()
    if spec.get("mark_dir"):  # a file per started run, to tell which runs started
        Path(spec["mark_dir"]).mkdir(parents=True, exist_ok=True)
        (Path(spec["mark_dir"]) / f"{spec['name']}__s{spec['seed']}").write_text(str(os.getpid()))
    if spec.get("ignore_sigint"):  # a run that does not stop on Ctrl-C or SIGTERM (stuck in C code, say)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(spec.get("sleep", 0.0))
    if spec.get("talk"):
        print(f"hello from {spec['name']}", flush=True)
        os.write(2, b"a warning written straight to fd 2\n")
    if spec.get("die"):  # the process dies as the OOM killer (SIGKILL) or a crash (SIGSEGV) would end it
        os.kill(os.getpid(), getattr(signal, spec["die"]))
        time.sleep(10)
    if spec.get("fail"):
        raise RuntimeError(f"boom in {spec['name']}")
    if spec.get("file_size_limit"):  # writes beyond this many bytes fail (EFBIG), as on a full disk
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (spec["file_size_limit"], resource.RLIM_INFINITY))
    return {"name": spec["name"], "seed": spec["seed"], "mAP": 0.5 + 0.01 * spec["seed"], "pid": os.getpid(),
            "threads": os.environ.get("OMP_NUM_THREADS"), "payload": "x" * int(spec.get("payload", 0)),
            "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"), "t0": t0, "t1": time.time()}


def fail(spec):
    raise RuntimeError(f"every run fails ({spec['name']})")


def percent(spec):
    """A run whose record holds mAP as a percentage (a bad record)."""
    return {"name": spec["name"], "seed": spec["seed"], "mAP": 55.0}
