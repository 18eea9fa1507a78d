"""alwa.core.files: a result is rewritten only when what it says changed; a JSON file is written whole or not at all."""
import json
import math

import pytest

from alwa.core.files import write_result


def test_a_result_is_not_rewritten_when_only_its_provenance_or_timing_changed(tmp_path):
    path = tmp_path / "tables" / "t.json"
    rows = [{"mAP": 0.1, "diff": math.nan, "verdict": "inconclusive", "by_iters": {300: 1, 1500: 2}}]
    assert write_result(path, {"rows": rows, "provenance": {"time_utc": "A"}, "seconds": 1.5})
    first = path.read_text()
    assert not write_result(path, {"rows": rows, "provenance": {"time_utc": "B"}, "seconds": 2.5})  # NaN == NaN here
    assert path.read_text() == first
    assert write_result(path, {"rows": [{**rows[0], "mAP": 0.2}], "provenance": {"time_utc": "C"}})
    assert json.loads(path.read_text())["provenance"] == {"time_utc": "C"}


def test_another_cpus_rounding_is_not_a_new_result(tmp_path):
    """The box-shifting statistics of one computation, made on two CPUs (measured 2026-12-05: they differ from the
    8th digit): the file is not rewritten; a difference a table could show (1e-4) is written."""
    path = tmp_path / "c1.json"
    assert write_result(path, {"rows": [{"cls_mean": 0.0072726336343030195, "reg_std": 0.1319982337393348, "n": 3}]})
    first = path.read_text()
    assert not write_result(path, {"rows": [{"cls_mean": 0.007272633680536637, "reg_std": 0.13199823115110346, "n": 3}]})
    assert path.read_text() == first
    assert write_result(path, {"rows": [{"cls_mean": 0.0072736336, "reg_std": 0.1319982337393348, "n": 3}]})
    assert write_result(path, {"rows": [{"cls_mean": 0.0072736336, "reg_std": 0.1319982337393348, "n": 4}]})
    assert write_result(path, {"rows": [{"cls_mean": 0.0072736336, "reg_std": 0.1319982337393348}]})  # a key less


def test_an_unreadable_result_is_written_anew(tmp_path):
    path = tmp_path / "t.json"
    path.write_text("{half")
    assert write_result(path, {"rows": []}) and json.loads(path.read_text()) == {"rows": []}
    path.write_text("[1, 2]")
    assert write_result(path, {"rows": []})


def test_write_json_atomic_leaves_a_readable_file_or_nothing(tmp_path):
    """A result is written whole with the umask's permissions (not mkstemp's 0600); a failed write leaves no file behind."""
    import os
    import stat

    from alwa.core.files import read_json, write_json_atomic

    old = os.umask(0o022)
    try:
        path = write_json_atomic(tmp_path / "r.json", {"mAP": 0.3, "nan": float("nan")})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert read_json(path)["mAP"] == 0.3
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "bad.json", {"x": object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
