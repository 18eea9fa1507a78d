"""alwa.mmdet.configs: the configs an experiment name stands for (the window C an ALWA hook gets)."""


def test_a_named_window_wins_over_the_settings_and_an_unnamed_one_takes_it():
    """At a setting with its own C (smoke: 4) a ``_C100`` run's hook has window 100 (it had 4 before ``interval``
    was typed: 100 meant "not named"); the name without _C takes the setting's 4, and the paper's 100 without one."""
    from alwa.core.settings import MiniSetting
    from alwa.mmdet.configs import build_config

    def window(name, c):
        cfg = build_config(name, setting=MiniSetting(interval=c))
        return next(h for h in cfg.custom_hooks if h["type"] == "ALWAHook")["interval"]

    assert window("faster-rcnn_r18w16_mini_l1_alwa2_C100", 4) == 100
    assert window("faster-rcnn_r18w16_mini_l1_alwa2", 4) == 4 and window("faster-rcnn_r18w16_mini_l1_base", 4) == 4
    assert window("faster-rcnn_r18w16_mini_l1_alwa2", None) == 100 and window("retinanet_r18w16_mini_l1_alwa1_C20", None) == 20
