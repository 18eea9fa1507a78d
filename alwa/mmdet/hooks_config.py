"""ALWA added to an mmdet config without losing the config's own hooks.

A config that writes ``custom_hooks = [dict(type='ALWAHook')]`` *replaces* what its ``_base_`` files set (mmengine
merges dicts, not lists): YOLOX's stock config silently loses its YOLOXModeSwitchHook, SyncNormHook and
EMAHook, and with them its L1 stage and its EMA; SSD300's loses its NumClassCheckHook and CheckInvalidLossHook. Two ways
that keep them:

- in Python, :func:`with_alwa` (``cfg = with_alwa(Config.fromfile(path), mode='alwa2')``) appends the hook;
- in a config file, write the base's hooks out again before ALWA's: ``custom_hooks = [<the base's hooks>,
  dict(type='ALWAHook', mode='alwa2')]``.

:func:`lost_custom_hooks` names the base files' hooks a config no longer has; ALWAHook warns with it at ``before_run``.
"""

from __future__ import annotations

import copy
from pathlib import Path

from mmengine.config import Config


def with_alwa(cfg: Config, **alwa_options) -> Config:
    """A copy of ``cfg`` with an ALWAHook (``alwa_options``: the hook's keywords) appended to its ``custom_hooks`` and
    ``alwa.mmdet`` added to its ``custom_imports``; the config's own hooks are kept. Refuses a config that has an
    ALWAHook of that name already."""
    out = copy.deepcopy(cfg)
    hooks = out.get("custom_hooks", None) or []
    if not isinstance(hooks, (list, tuple)) or not all(isinstance(h, dict) for h in hooks):
        raise ValueError(f"the config's custom_hooks must be a list of hook dicts (dict(type=...)), got {hooks!r:.120}")
    hooks = list(hooks)
    name = alwa_options.get("name", "alwa")
    if any(h.get("type") in ("ALWAHook", "alwa.mmdet.ALWAHook") and h.get("name", "alwa") == name for h in hooks):
        raise ValueError(f"the config has an ALWAHook named {name!r} already; give the new one another name=")
    out.custom_hooks = hooks + [dict(type="ALWAHook", **alwa_options)]
    imports = out.get("custom_imports", None) or {"imports": [], "allow_failed_imports": False}
    if not isinstance(imports, dict):
        raise ValueError(f"the config's custom_imports must be a dict(imports=[...], allow_failed_imports=...), got {imports!r:.120}")
    imports = dict(imports)
    names = imports.get("imports", [])
    names = [names] if isinstance(names, str) else list(names)  # mmengine takes one module name as a string too
    if "alwa.mmdet" not in names:
        imports["imports"] = names + ["alwa.mmdet"]
    out.custom_imports = imports
    return out


def _hook_types(hooks) -> list[str]:
    return [str(h.get("type")) for h in (hooks or []) if isinstance(h, dict)]


def lost_custom_hooks(config_file) -> list[str]:
    """The types of the ``custom_hooks`` that the ``_base_`` files of ``config_file`` set and the config itself no
    longer has (it replaced the list); [] for a config without bases or that kept them."""
    path = Path(config_file)
    if not path.is_file():
        return []
    try:
        bases = Config._get_base_files(str(path))
    except Exception:  # noqa: BLE001 - a config whose bases cannot be read: nothing to say about them
        return []
    had: list[str] = []
    for base in bases:
        f = Path(base) if Path(base).is_absolute() else path.parent / base
        if f.is_file():
            try:
                had += _hook_types(Config.fromfile(str(f)).get("custom_hooks"))
            except Exception:  # noqa: BLE001
                continue
    now = _hook_types(Config.fromfile(str(path)).get("custom_hooks"))
    return [t for t in dict.fromkeys(had) if t not in now]
