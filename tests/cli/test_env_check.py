"""alwa env-check: a missing part is one line, never a traceback."""
import pytest


def test_a_missing_optional_part_is_one_line_each(monkeypatch, capsys):
    from alwa.cli import env_check

    real = env_check.importlib.import_module

    def no_book(name, *a, **k):
        if name.split(".")[0] in ("jupyter_book", "nbval"):
            raise ModuleNotFoundError(f"No module named '{name}'\nsecond line")
        return real(name, *a, **k)

    monkeypatch.setattr(env_check.importlib, "import_module", no_book)
    monkeypatch.delitem(__import__("sys").modules, "jupyter_book", raising=False)
    monkeypatch.delitem(__import__("sys").modules, "nbval", raising=False)
    problems = env_check.check()
    missing = [p for p in problems if "cannot import" in p]
    assert missing == ["jupyter_book: cannot import (ModuleNotFoundError: No module named 'jupyter_book')",
                       "nbval: cannot import (ModuleNotFoundError: No module named 'nbval')"]
    with pytest.raises(SystemExit):
        env_check.main()
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("[env_check] PROBLEM: jupyter_book") == 1
