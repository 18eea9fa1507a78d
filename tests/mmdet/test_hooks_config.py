"""alwa.mmdet.hooks_config: ALWA added without losing a config's own hooks, and a word when a config lost them."""
import re

import pytest
from mmengine.config import Config

from alwa.mmdet.hooks_config import lost_custom_hooks, with_alwa

BASE = "custom_hooks = [dict(type='EMAHook', momentum=0.0001), dict(type='SyncNormHook')]\nmodel = dict(type='X')\n"


def test_with_alwa_appends_and_keeps_the_configs_hooks_and_imports(tmp_path):
    (tmp_path / "base.py").write_text(BASE + "custom_imports = dict(imports=['mmdet.models'], allow_failed_imports=False)\n")
    cfg = with_alwa(Config.fromfile(str(tmp_path / "base.py")), mode="alwa2", interval=50)
    assert [h["type"] for h in cfg.custom_hooks] == ["EMAHook", "SyncNormHook", "ALWAHook"]
    assert cfg.custom_hooks[-1]["mode"] == "alwa2" and cfg.custom_hooks[-1]["interval"] == 50
    assert cfg.custom_imports["imports"] == ["mmdet.models", "alwa.mmdet"]
    with pytest.raises(ValueError, match="has an ALWAHook named 'alwa' already"):
        with_alwa(cfg)
    assert [h["type"] for h in with_alwa(cfg, name="alwa_rpn").custom_hooks][-2:] == ["ALWAHook", "ALWAHook"]


def test_a_config_that_replaced_its_bases_hooks_is_named(tmp_path):
    (tmp_path / "base.py").write_text(BASE)
    (tmp_path / "two_lines.py").write_text("_base_ = ['base.py']\ncustom_imports = dict(imports=['alwa.mmdet'])\n"
                                           "custom_hooks = [dict(type='ALWAHook', mode='alwa2')]\n")
    (tmp_path / "kept.py").write_text("_base_ = ['base.py']\ncustom_hooks = [dict(type='EMAHook'), dict(type='SyncNormHook'), "
                                      "dict(type='ALWAHook')]\n")
    assert lost_custom_hooks(tmp_path / "two_lines.py") == ["EMAHook", "SyncNormHook"]
    assert lost_custom_hooks(tmp_path / "kept.py") == [] and lost_custom_hooks(tmp_path / "base.py") == []
    assert lost_custom_hooks(tmp_path / "missing.py") == []


def test_the_stock_yolox_config_with_the_two_lines_is_named(tmp_path):
    from alwa.mmdet.configs import MMDET_CONFIGS

    stock = MMDET_CONFIGS / "yolox" / "yolox_tiny_8xb8-300e_coco.py"
    base_hooks = [h["type"] for h in Config.fromfile(str(stock)).custom_hooks]
    assert {"YOLOXModeSwitchHook", "SyncNormHook", "EMAHook"} <= set(base_hooks)
    assert lost_custom_hooks(stock) == []  # as shipped, nothing is lost
    two = tmp_path / "yolox_alwa.py"
    two.write_text(f"_base_ = [{str(stock)!r}]\ncustom_hooks = [dict(type='ALWAHook', mode='alwa2')]\n")
    assert set(lost_custom_hooks(two)) == set(base_hooks)



@pytest.mark.parametrize("field, value, said", [
    ("custom_hooks", dict(type="EMAHook"), "custom_hooks must be a list of hook dicts"),
    ("custom_hooks", [dict(type="EMAHook"), "SyncNormHook"], "custom_hooks must be a list of hook dicts"),
    ("custom_imports", ["my.module"], "custom_imports must be a dict(imports=[...]"),
])
def test_with_alwa_refuses_hooks_and_imports_of_the_wrong_shape_with_one_line(field, value, said):
    from mmengine.config import Config

    with pytest.raises(ValueError, match=re.escape(said)):
        with_alwa(Config({field: value}), mode="alwa2")


def test_with_alwa_takes_one_import_given_as_a_string_as_mmengine_does():
    from mmengine.config import Config

    out = with_alwa(Config({"custom_imports": dict(imports="my.module", allow_failed_imports=False)}), mode="alwa2")
    assert out.custom_imports["imports"] == ["my.module", "alwa.mmdet"]
