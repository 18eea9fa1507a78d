"""alwa.runs.profile: a profile's parameters are checked before any work (issue 17, profiles and parameters)."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from alwa.core.settings import MiniSetting
from alwa.runs.profile import Profile, ProfileError, load_profile, validate

ROOT = Path(__file__).resolve().parents[2]
CPU = yaml.safe_load((ROOT / "notebooks" / "params" / "cpu.yaml").read_text())


@pytest.mark.parametrize("change, key, closest", [
    ({"grid_pair": []}, "grid_pair", "grid_pairs"),
    ({"setting": {"iter": 10}}, "setting.iter", "setting.iters"),
    ({"faster_setting": {"itres": 10}}, "faster_setting.itres", "faster_setting.iters"),
    ({"dataset": {"clases": ["disc"]}}, "dataset.clases", "dataset.classes"),
    ({"pretrain": {"step": 3}}, "pretrain.step", "pretrain.steps"),
    ({"paper": {"gpu": 2}}, "paper.gpu", "paper.gpus"),
])
def test_an_unknown_key_at_any_level_names_the_closest_known_one(change, key, closest):
    with pytest.raises(ProfileError, match=rf"unknown key '{key}'.*did you mean '{closest}'"):
        validate({**CPU, **change})


@pytest.mark.parametrize("change, match", [
    ({"setting": {"iters": "abc"}}, r"setting\.iters must be a whole number, got 'abc'"),
    ({"retina_seeds": 2.7}, r"retina_seeds must be a whole number, got 2\.7"),
    ({"grid_seeds": -1}, r"grid_seeds must be >= 1, got -1"),
    ({"seed": -1}, r"seed must be >= 0"),
    ({"grid_losses": "l1"}, r"grid_losses must be a list"),
    ({"alwa_losses": ["l1", "l2"]}, r"alwa_losses\[1\] must be one of"),
    ({"grid_pairs": ["0.5-0.75"]}, r"grid_pairs\[0\] must be a weight pair"),
    ({"abl_init": [0.5, 0]}, r"abl_init\[1\] must be > 0"),
    ({"workers": True}, r"workers must be a whole number, got True"),
    ({"setting": {"img_scale": 160}}, r"setting\.img_scale must be a list"),
    ({"setting": {"grad_clip": "none"}}, r"setting\.grad_clip must be a finite number"),
    ({"dataset": {"n_test": 1.5}}, r"dataset\.n_test must be a whole number"),
    ({"data": "kitti"}, r"data must be one of"),
    ({"devices": []}, r"devices must not be empty"),
])
def test_wrong_types_and_values_are_refused_naming_the_key(change, match):
    with pytest.raises(ProfileError, match=match):
        validate({**CPU, **change})


def test_the_published_profiles_are_valid_and_unchanged_by_checking():
    for name in ("smoke", "cpu", "gpu", "gpu-mini"):
        raw = yaml.safe_load((ROOT / "notebooks" / "params" / f"{name}.yaml").read_text())
        p = load_profile(name)
        assert isinstance(p, Profile)
        assert {k: getattr(p, k) for k in raw} == raw  # checking keeps every value as it was
        assert {k: v for k, v in p.as_dict().items() if k in raw} == raw


def test_a_profile_is_checked_when_constructed_not_only_when_loaded():
    ok = validate(CPU)
    with pytest.raises(ProfileError, match=r"retina_seeds must be >= 1, got 0"):
        Profile(**{**CPU, "retina_seeds": 0})
    with pytest.raises(ProfileError, match=r"setting\.lr must be a finite number"):
        ok.replace(setting={"lr": "fast"})
    with pytest.raises(ProfileError, match=r"unknown key 'retina_seed'"):
        ok.replace(retina_seed=2)
    assert ok.replace(retina_seeds=2).retina_seeds == 2 and ok.retina_seeds == 5  # frozen: a copy, the original kept
    with pytest.raises(AttributeError):
        ok.workers = 3


def test_a_missing_required_key_is_named(tmp_path):
    f = tmp_path / "cpu.yaml"
    f.write_text(yaml.safe_dump({k: v for k, v in CPU.items() if k not in ("grid_seeds", "abl_C")}))
    with pytest.raises(ProfileError, match=r"has no 'grid_seeds', 'abl_C'"):
        load_profile("cpu", f)


def test_optional_keys_take_the_documented_defaults():
    p = validate({k: v for k, v in CPU.items() if k not in ("workers", "threads", "seed", "dataset", "work_root")})
    assert (p.workers, p.threads, p.seed, p.dataset, p.work_root, p.devices, p.max_runs) == (1, 1, 0, {}, "work_dirs", None, None)


def test_the_typed_setting_of_each_detector():
    p = validate({**CPU, "setting": {"iters": 600, "lr": 0.04}, "faster_setting": {"iters": 400}})
    assert p.setting_for("retinanet") == {"iters": 600, "lr": 0.04}
    assert p.setting_for("faster-rcnn") == {"iters": 400, "lr": 0.04}
    r, f = p.mini_setting("retinanet"), p.mini_setting("faster-rcnn")
    assert isinstance(r, MiniSetting) and (r.iters, r.lr, f.iters, f.lr) == (600, 0.04, 400, 0.04)
    assert r.batch_size == MiniSetting().batch_size  # what the profile does not change is the default
    p.setting_for("faster-rcnn")["iters"] = 1
    assert p.faster_setting == {"iters": 400}  # a copy: the profile is not changed through it
    assert validate({**CPU, "seed": 3}).seeds(2) == [3, 4]


def test_an_empty_params_file_is_a_clear_error(tmp_path):
    f = tmp_path / "empty.yaml"
    f.write_text("# nothing here\n")
    with pytest.raises(ProfileError, match="is empty"):
        load_profile("cpu", f)


def test_a_mini_profile_without_data_dir_is_refused(tmp_path):
    f = tmp_path / "cpu.yaml"
    f.write_text(yaml.safe_dump({k: v for k, v in CPU.items() if k != "data_dir"}))
    with pytest.raises(ProfileError, match="needs data_dir"):
        load_profile("cpu", f)


def test_a_params_file_of_another_profile_is_refused(tmp_path):
    with pytest.raises(ProfileError, match="is for profile 'cpu', not 'smoke'"):
        load_profile("smoke", ROOT / "notebooks" / "params" / "cpu.yaml")


def test_overrides_are_checked_like_the_file():
    assert load_profile("cpu", overrides={"retina_seeds": 2}).retina_seeds == 2
    with pytest.raises(ProfileError, match="retina_seed'.*did you mean 'retina_seeds'"):
        load_profile("cpu", overrides={"retina_seed": 2})


@pytest.mark.parametrize("cmd", [["sweep"], ["status"], ["study", "status"]])
def test_the_commands_refuse_a_bad_params_file_before_any_work(tmp_path, cmd):
    bad = tmp_path / "cpu.yaml"
    bad.write_text(yaml.safe_dump({**CPU, "setting": {"iter": 10}}))
    args = [sys.executable, "-m", "alwa.cli", *cmd, "--profile", "cpu", "--results", str(tmp_path / "r"), "--params", str(bad)]
    r = subprocess.run(args, capture_output=True, text=True)
    assert r.returncode != 0 and "unknown key 'setting.iter'" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("*.json"))


def test_the_gpu_mini_profile_runs_each_configuration_once_on_a_gpu():
    from alwa.runs import specs as ex

    p = load_profile("gpu-mini")
    specs = ex.profile_specs(p)
    assert {s.seed for s in specs} == {0} and len({s.name for s in specs}) == len(specs) == 55
    assert p.devices == [0] and p.runs_per_device > 1
    cpu = load_profile("cpu")
    assert p.setting == cpu.setting and p.dataset == cpu.dataset and p.data_dir != cpu.data_dir
    # every configuration of the cpu profile's notebooks is in it
    assert {s.name for s in ex.profile_specs(cpu)} == {s.name for s in specs}


def test_the_commands_share_one_spelling_of_the_profile_options():
    """sweep, status, archive, study, book and bench speed take --profile/--results/--params from one helper."""
    import argparse

    from alwa.runs.profile import add_profile_options

    ap = argparse.ArgumentParser()
    add_profile_options(ap)
    a = ap.parse_args(["--profile", "smoke", "--params", "x.yaml"])
    assert (a.profile, a.results, a.params) == ("smoke", "results", "x.yaml")
    assert "smoke | cpu | gpu | gpu-mini" in ap.format_help()
    bare = argparse.ArgumentParser()
    add_profile_options(bare, default="gpu", results=False, params=False)
    assert vars(bare.parse_args([])) == {"profile": "gpu"}


def test_checking_changes_no_value_a_file_gives():
    """pydantic checks the schema; the profile keeps the values as given (an int where a float may be stays an int, so
    a run's spec and result key do not change), tuples become YAML's lists and an empty mapping is {}."""
    p = validate({**CPU, "setting": {"lr": 1, "img_scale": (160, 160)}, "dataset": None, "abl_init": (1, 1.5)})
    assert p.setting == {"lr": 1, "img_scale": [160, 160]} and type(p.setting["lr"]) is int
    assert p.dataset == {} and p.abl_init == [1, 1.5] and type(p.abl_init[0]) is int


def test_the_schema_is_pydantics_and_names_every_field():
    from pydantic import BaseModel

    from alwa.runs import profile

    assert issubclass(profile._SCHEMA, BaseModel)
    assert set(profile._SCHEMA.model_fields) == set(Profile.keys())
    assert set(profile._SCHEMA.model_fields["setting"].annotation.__args__[0].model_fields) == set(MiniSetting.__dataclass_fields__)
