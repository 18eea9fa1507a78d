"""alwa.runs.profile, reading a params file: duplicate keys, encodings, non-mappings and bounds are one-line errors."""
import pytest

from alwa.runs.profile import ProfileError, load_profile

BASE = open("notebooks/params/smoke.yaml").read()


def load(tmp_path, text=None, raw=None):
    f = tmp_path / "p.yaml"
    f.write_bytes(raw if raw is not None else text.encode())
    return load_profile("smoke", f)


LAST = BASE.count("\n") + 1  # the line an appended key lands on


@pytest.mark.parametrize("extra, key, first", [
    ("workers: 1\n", "workers", BASE.splitlines().index("workers: 2") + 1),  # the top level
    ("paper: {gpus: 1, gpus: 2}\n", "gpus", LAST),  # inside a flow mapping
    ("setting: {batch_size: 2}\n", "setting", next(i + 1 for i, l in enumerate(BASE.splitlines()) if l.startswith("setting:"))),
])
def test_a_key_given_twice_is_refused_naming_it_and_both_lines(tmp_path, extra, key, first):
    with pytest.raises(ProfileError) as e:
        load(tmp_path, BASE + extra)
    msg = str(e.value)
    assert f"the key {key!r} is given twice, on lines {first} and {LAST}: keep one" in msg and "\n" not in msg


def test_not_utf8_and_not_a_mapping_are_one_line_errors(tmp_path):
    with pytest.raises(ProfileError, match=r"is not UTF-8 text \(byte 0xe9 at offset"):
        load(tmp_path, raw=("# caf\u00e9\n" + BASE).encode("latin-1"))
    with pytest.raises(ProfileError, match="is not UTF-8 text"):
        load(tmp_path, raw=BASE.encode("utf-16"))
    with pytest.raises(ProfileError, match="holds a YAML list, not a mapping"):
        load(tmp_path, "- 1\n- 2\n")
    with pytest.raises(ProfileError, match="holds a YAML str, not a mapping"):
        load(tmp_path, "just words\n")


@pytest.mark.parametrize("line, words", [("retina_seeds: 1000000000", "retina_seeds must be <= 1000, got 1000000000"),
                                         ("retina_seeds: 100000000000000000000", "retina_seeds must be <= 1000"),
                                         ("bench_blocks: 10000000", "bench_blocks must be <= 1000000"),
                                         ("retina_seeds: 1e9", "retina_seeds must be a whole number, got '1e9' (str)")])
def test_counts_have_a_stated_maximum(tmp_path, line, words):
    text = "\n".join(l for l in BASE.splitlines() if not l.startswith(line.split(":")[0] + ":")) + f"\n{line}\n"
    with pytest.raises(ProfileError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load(tmp_path, text)


def test_workers_below_one_are_refused_by_the_commands(capsys):
    from alwa.cli import runs as cli_runs
    from alwa.cli import study as cli_study

    for argv in (["sweep", "--profile", "smoke", "--workers", "0"], ["status", "--profile", "smoke", "--workers", "-3"],
                 ["sweep", "--profile", "smoke", "--threads", "0"]):
        with pytest.raises(SystemExit):
            cli_runs.main(argv)
        assert "must be >= 1, got" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_study.main(["status", "--profile", "smoke", "--workers", "0"])
    assert "--workers must be >= 1" in capsys.readouterr().err


def test_yaml_merge_keys_work_and_a_key_beside_one_overrides_it(tmp_path):
    """'<<: *anchor' was refused ('could not determine a constructor for the tag ...merge'): the duplicate-key loader
    read the keys before PyYAML expanded the merge."""
    lines = [ln for ln in BASE.splitlines() if not ln.startswith("faster_setting:")]
    text = "\n".join(ln.replace("setting: {", "setting: &s {", 1) if ln.startswith("setting:") else ln for ln in lines)
    p = load(tmp_path, text + "\nfaster_setting:\n  <<: *s\n  batch_size: 5\n")
    assert p.faster_setting["batch_size"] == 5 and p.faster_setting["iters"] == p.setting["iters"] == 12
    with pytest.raises(ProfileError, match="the key 'batch_size' is given twice"):
        load(tmp_path, text + "\nfaster_setting:\n  <<: *s\n  batch_size: 5\n  batch_size: 6\n")
