"""The code shown in the book and README runs as shown."""

import re
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", (ROOT / path).read_text(), flags=re.S)


def test_the_pytorch_loop_page_is_a_paired_notebook_with_its_outputs():
    """book/use_pytorch.ipynb (executed: the outputs the book shows, which `make test` checks with nbval) is
    paired with its jupytext source; the code cells are the source's."""
    import jupytext
    import nbformat

    book = nbformat.read(ROOT / "book" / "use_pytorch.ipynb", as_version=4)
    src = jupytext.read(ROOT / "book" / "use_pytorch.py")
    assert [(c.cell_type, c.source.strip()) for c in book.cells] == [(c.cell_type, c.source.strip()) for c in src.cells]
    outs = "".join(o.get("text", "") for c in book.cells for o in c.get("outputs", []))
    assert outs.count("cls weight in force next") == 4 and "calls=4, windows=2" in outs


def test_readme_weighter_example_runs(tmp_path, monkeypatch, capsys):
    """The README's loop, run as written with a stand-in model, loader and optimizer."""
    import torch

    from alwa import ALWA

    (code,) = [b for b in python_blocks("README.md") if "from alwa import ALWA" in b]
    theta = torch.nn.Parameter(torch.tensor([2.0, 1.0]))
    ns = {"torch": torch, "loader": [(None, None)] * 3, "opt": torch.optim.SGD([theta], lr=0.1),
          "model": lambda images, targets: {"classification": (theta[0] ** 2), "bbox_regression": theta[1].abs()}}
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), ns)
    w = ns["w"]
    assert w.calls == 3 and (w.mode, w.interval) == ("alwa2", 100)
    assert capsys.readouterr().out.split() == ["1.0", "1.0"]  # no window has ended: the weights printed are the initial ones
    saved = torch.load(tmp_path / "ckpt.pth", weights_only=True)["alwa"]
    assert ALWA.from_state_dict(saved).calls == 3 and theta.detach().tolist() != [2.0, 1.0]  # the loop trained


def test_the_adding_a_study_example_declares_a_study_the_engine_plans():
    """book/adding_a_study.md's declaration runs as printed: with no finished run it plans each arm's lr sweep, and
    with the sweeps finished it plans the stopping rule's seeds of both arms at their tuned lrs."""
    import re

    from alwa.runs.profile import load_profile
    from alwa.runs.specs import experiment_of

    text = (ROOT / "book" / "adding_a_study.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    ns: dict = {}
    exec(compile(code, "adding_a_study.md", "exec"), ns)
    study, p = ns["DwaStudy"](), load_profile("cpu")
    st, specs = study.decide(p, [])
    assert st.stage == "lr" and len(specs) == 18 and {s.experiment.weighting for s in specs} == {"base", "dwa"}
    exp = lambda w, lr: experiment_of(p, "retinanet", "l1", w, lr=lr, iters=1500, name_setting_values=True)  # noqa: E731
    recs = [{"name": exp(w, lr).name, "seed": s, "mAP": 0.7 - abs(lr - 0.04), "fingerprints": {"init_state": f"s{s}"}}
            for w in ("base", "dwa") for lr in (0.02, 0.04, 0.08) for s in range(3)]
    st, specs = study.decide(p, recs)
    assert st.tuned == {"base": 0.04, "dwa": 0.04} and st.stage == "arms" and st.seeds == 10
    assert {(s.experiment.weighting, s.seed) for s in specs if s.experiment.lr == 0.04} >= {("dwa", 9), ("base", 9)}
