"""One command for everything: ``alwa COMMAND [options]`` (``alwa COMMAND --help`` for each).

    alwa sweep --profile cpu [--max-runs N] [--executor slurm ...]   run (resume) a profile's training runs
    alwa status --profile cpu                                        runs done, compute spent, time to go, targets
    alwa archive --profile cpu --name NAME                           keep a profile's results before re-calibrating
    alwa study run|status|list --profile cpu [--study lr|settle|best] a study on the one engine, resumable
    alwa claims --profile cpu                                        write the claim store and tables from the records
    alwa book [--profile cpu] [--max-runs 0]                         execute the notebooks and build the book
    alwa data make-mini-voc|check|download ...                       the data sets
    alwa bench [train|speed|detectors]                               the weighter's per-call time (train: the mmdet train step;
                                                                     speed: the mini step's speed-ups, interleaved;
                                                                     detectors: ALWAHook on mmdet's stock detectors)
    alwa gpu-check [--mmdet] ...                                     ALWA on a GPU (plain PyTorch loop, or inside mmdet)
    alwa env-check                                                   is the environment complete?

Each command's implementation is imported when it is asked for (``alwa data`` never imports mmdet or papermill).
"""

from __future__ import annotations

import difflib
import os
import sys
from typing import Optional

COMMANDS = ("sweep", "status", "archive", "study", "claims", "book", "data", "bench", "gpu-check", "env-check")
DATA = {"make-mini-voc": "make_mini_voc_main", "check": "check_dataset_main", "download": "download_main"}


def _unknown(kind: str, name: str, known) -> None:
    close = difflib.get_close_matches(name, list(known), n=1)
    sys.exit(f"alwa: unknown {kind} {name!r}" + (f"; did you mean {close[0]!r}?" if close else "") + f" ({', '.join(known)})")


def _one_line(e: BaseException) -> str:
    """An error as one line: an OSError by its cause and file, anything else by its message (first line)."""
    if isinstance(e, OSError) and e.strerror:
        where = f": {e.filename}" if e.filename else ""
        return f"{e.strerror}{where}" + (f" -> {e.filename2}" if getattr(e, "filename2", None) else "")
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def main(argv: Optional[list] = None) -> None:
    """Run one command. An OSError (a read-only folder, a full disk, a file where a folder belongs) or a ValueError
    (a value the command refuses) ends it with one line, ``alwa COMMAND: error: ...``, and exit status 1;
    ``ALWA_TRACEBACK=1`` shows the traceback instead."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except (OSError, ValueError) as e:
        if os.environ.get("ALWA_TRACEBACK"):
            raise
        name = args[0] if args else "alwa"
        sys.exit(f"alwa {name}: error: {_one_line(e)}")


def _dispatch(args: list) -> None:
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return
    cmd, rest = args[0], args[1:]
    if cmd in ("sweep", "status", "archive"):
        from alwa.cli.runs import main as run
        return run([cmd, *rest])
    if cmd == "study":
        from alwa.cli.study import main as run
        return run(rest)
    if cmd == "claims":
        from alwa.cli.claims import main as run
        return run(rest)
    if cmd == "book":
        from alwa.book.build import main as run
        return run(rest if rest[:1] == ["build"] else ["build", *rest])
    if cmd == "data":
        if not rest or rest[0] in ("-h", "--help"):
            print("alwa data make-mini-voc | check | download  (alwa data SUBCOMMAND --help)")
            return
        if rest[0] not in DATA:
            _unknown("data command", rest[0], DATA)
        from alwa.cli import data
        return getattr(data, DATA[rest[0]])(rest[1:])
    if cmd == "bench":
        if rest[:1] == ["train"]:
            from alwa.bench.train import main as run
            return run(rest[1:])
        if rest[:1] == ["speed"]:
            from alwa.bench.speed import main as run
            return run(rest[1:])
        if rest[:1] == ["detectors"]:
            from alwa.bench.detectors import main as run
            return run(rest[1:])
        from alwa.bench.micro import main as run
        return run(rest)
    if cmd == "gpu-check":
        if "--mmdet" in rest:
            from alwa.bench.gpu_mmdet import main as run
            return run([a for a in rest if a != "--mmdet"])
        from alwa.bench.gpu import main as run
        return run(rest)
    if cmd == "env-check":
        from alwa.cli.env_check import main as run
        return run()
    _unknown("command", cmd, COMMANDS)


if __name__ == "__main__":
    main()
