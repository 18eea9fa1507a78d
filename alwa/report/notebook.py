"""Helpers that keep the notebooks thin: the shared first cell (:func:`setup`), profile labels, running a sweep of
a notebook's specs, the paper's tables and claim records. Paths are relative to the current folder (papermill runs
the notebooks in the checkout's root)."""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from alwa.analysis.records import Claim
from alwa.core.files import read_json
from alwa.report.plots import png_bytes
from alwa.report.store import paper_tables
from alwa.runs.profile import Profile, ProfileError, load_profile, results_dir
from alwa.runs.store import load_failures, load_results, result_problems, spec_key


class Text(str):
    """A string that displays without quotes, for ``glue`` into prose (``{glue:text}``):
    a plain ``str`` glues as its repr, ``'like this'``."""

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def __repr__(self):
        return str(self)


NOTEBOOK_PARAMETERS = ("profile", "params_file", "results_root", "max_runs", "overrides")


def _injected_names() -> list[str]:
    """Names papermill injected (its ``# Parameters`` cell) in this kernel's history; [] outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return []
    ip = get_ipython()
    if ip is None:
        return []
    names = []
    for src in ip.user_ns.get("In", []):
        if src.lstrip().startswith("# Parameters"):  # papermill's injected-parameters cell
            try:
                tree = ast.parse(src)
            except SyntaxError:
                continue
            names = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)]
    return names


def check_parameters(names, where: str = "this notebook") -> None:
    """The one check of the parameters given to a notebook (``alwa book`` before a kernel starts, and each notebook's
    first cell for a papermill run by hand): a name that is not one of :data:`NOTEBOOK_PARAMETERS` is refused, with the
    profile key it was probably meant as (which goes in ``overrides``). papermill would inject it and the notebook
    would never read it."""
    unknown = [n for n in names if n not in NOTEBOOK_PARAMETERS]
    if unknown:
        hints = []
        for n in unknown:
            close = difflib.get_close_matches(n, list(Profile.keys()), n=1, cutoff=0.6)
            hints.append(f"{n!r}" + (f" (a profile key like {close[0]!r} goes in overrides: -y 'overrides: {{{close[0]}: ...}}')"
                                      if close else ""))
        raise ProfileError(f"{where} has no parameter {', '.join(hints)}; its parameters: {', '.join(NOTEBOOK_PARAMETERS)}")


def start(profile: str, params_file=None, results_root="results", max_runs=None, overrides=None) -> Profile:
    """The first step of every notebook: refuse a parameter the notebook does not have (a typo such as
    ``-p retina_seed 5`` would otherwise be injected and ignored), then load and check the profile
    (:func:`alwa.runs.profile.load_profile`). Returns the :class:`~alwa.runs.profile.Profile`."""
    check_parameters(_injected_names())
    return load_profile(profile, params_file, results_root, max_runs, overrides)


def profile_label(profile: str) -> str:
    return "SMOKE RUN - not evidence" if profile == "smoke" else f"profile {profile}"


@dataclass(frozen=True)
class Setup:
    """What every notebook's first cell makes: the checked profile and where its results and figures go."""

    params: Profile  # the profile's checked parameters (:func:`alwa.runs.profile.load_profile`)
    label: str  # 'profile cpu', or 'SMOKE RUN - not evidence'
    figures: Path  # <results_root>/<profile>/figures
    paper: dict  # the paper's tables (:func:`paper_tables`)

    @property
    def profile(self) -> str:
        return self.params.profile

    @property
    def results_root(self) -> str:
        return self.params.results_root

    def results(self, part: str) -> Path:
        """``<results_root>/<profile>/<part>``, created."""
        return results_dir(self.results_root, self.profile, part)


def setup(profile: str, params_file=None, results_root="results", max_runs=None, overrides=None, show: bool = True) -> Setup:
    """The first code cell of every notebook: :func:`start` (refuses unknown parameters, loads and checks the profile),
    then the figures folder, the paper's tables, pandas' display width and a header naming the profile and the results."""
    p = start(profile, params_file, results_root, max_runs, overrides)
    nb = Setup(params=p, label=profile_label(p.profile), figures=results_dir(p.results_root, p.profile, "figures"),
               paper=paper_tables())
    if show:
        try:
            import pandas as pd
            from IPython.display import Markdown, display
        except ImportError:  # pragma: no cover - outside a notebook
            return nb
        pd.set_option("display.width", 200)
        show_figures_with_their_columns()
        display(Markdown(f"**{nb.label}** — results in `{nb.results_root}/{nb.profile}`"))
        bad = result_problems(nb.results("runs"))
        if bad:  # left out of every table and claim below, never in silence
            display(Markdown(f"**{len(bad)} result file(s) are bad or unreadable and are left out of every table and claim "
                             "on this page (a sweep runs them again):**\n\n" + "\n".join(f"- `{line}`" for line in bad)))
    return nb


def show_figures_with_their_columns() -> None:
    """Show matplotlib figures in this kernel as :func:`alwa.report.plots.png_bytes` (a PNG that says how many panels
    it sets side by side, for the book's layout test) instead of the inline backend's plain PNG."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    ip = get_ipython()
    if ip is None:
        return
    import matplotlib.pyplot  # noqa: F401 - activates the inline backend first, so the formatter below is the last word
    from matplotlib.figure import Figure

    ip.display_formatter.formatters["image/png"].for_type(Figure, png_bytes)


def load_part(specs: list, p: Profile, desc: str) -> tuple[list, list]:
    """Load the results of a notebook's ``specs`` (a notebook starts no run: ``alwa book`` or ``alwa sweep`` runs
    them) and its failures; say how many are missing."""
    out = results_dir(p.results_root, p.profile, "runs")
    results = load_results(out, specs)
    keys = {spec_key(s) for s in specs}
    failures = [f for f in load_failures(out) if spec_key(f["spec"]) in keys]
    missing = len(keys) - len(results)
    if missing or failures:  # a complete part prints nothing: no status line on a reader's page
        print(f"{desc}: {len(results)} of {len(keys)} runs have results" + (f" ({len(failures)} failed)" if failures else ""))
    if missing:
        print(f"{missing} of {len(keys)} runs have no result yet (`alwa sweep --profile {p.profile}` runs them); "
              "tables below use what exists")
    return results, failures


def stored_bench(p: Profile, name: str, command: str) -> Optional[dict]:
    """A benchmark's stored record (``<results_root>/<profile>/bench/<name>.json``), read, never measured here (``alwa
    book`` measures a missing one before the notebooks run); None, and a line naming the ``command`` that makes it,
    where there is none."""
    path = results_dir(p.results_root, p.profile, "bench") / f"{name}.json"
    if not path.exists():
        print(f"no {name} benchmark recorded for this profile: `{command} --json {path}` makes it")
        return None
    rec = read_json(path)
    print(f"{name} benchmark: the record of {rec.get('provenance', {}).get('time_utc', '?')} ({path}); "
          f"`{command} --json {path}` measures it anew")
    return rec


def comparison_table(rows):
    """The paired comparisons (:class:`alwa.analysis.records.Comparison`) as a DataFrame a reader can scan: the
    difference in points with its 95 % interval, n, the seeds dropped as unpaired and the detectable effect in
    points, without an index column. A detector shared by every row is said once, in the caption, not in a column
    (the table then fits the book's text width)."""
    import math

    import pandas as pd

    def pts(v):
        return round(100 * v, 2) if isinstance(v, float) and math.isfinite(v) else None

    out = []
    for r in rows:
        d = r.diff
        diff = (f"{100 * d.mean:+.2f} [{100 * d.lo:+.2f}, {100 * d.hi:+.2f}]" if math.isfinite(d.lo) else
                f"{100 * d.mean:+.2f}" if math.isfinite(d.mean) else "no pair")
        ctx = {k: getattr(r, k) for k in ("regime", "detector", "clipping") if getattr(r, k) is not None}
        out.append({**ctx, "loss": r.loss or "", "comparison": r.label, "diff (pts) [95 % CI]": diff, "n": d.n,
                    "pairs dropped": r.dropped, "detectable (pts)": pts(r.mde), "verdict": r.verdict})
    df = pd.DataFrame(out)
    caption = ""
    if "detector" in df and len(df) and df["detector"].nunique() == 1:
        caption = f"detector: {df['detector'].iloc[0]}"
        df = df.drop(columns="detector")
    return _stable(_styled(df, 2), df, caption)


def table(data, digits: int = 3):
    """Rows (a DataFrame or a list of dicts) as a reader reads them: no index column, floats to ``digits``
    decimals, a missing value as ``-``."""
    import pandas as pd

    df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(list(data))
    return _stable(_styled(df, digits), df)


def _styled(df, digits: int):
    """``df`` styled for a page: no index column, floats to ``digits`` decimals, a missing value as ``-``; in text
    cells and headers a line may break after an underscore (``<wbr>``), so that a run's name does not push a table
    past the book's text width."""
    import html
    import math

    import pandas as pd

    def breakable(v) -> str:
        return html.escape(str(v)).replace("_", "_<wbr>")

    def cell(v) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        if isinstance(v, float):
            return f"{v:.{digits}f}"
        return breakable(v)

    styler = df.style.hide(axis="index").format(precision=digits, na_rep="-")
    text = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]  # str, object or pandas' string
    if text:
        styler = styler.format(cell, subset=text)
    return styler.format_index(breakable, axis=1)


class Table:
    """A table as a notebook shows it: HTML without the index column, and plain text without it; its HTML ids come
    from the table's content and its text holds no memory address, so a render that changes no number changes no
    byte of the page."""

    def __init__(self, styler, df, caption: str = ""):
        self.styler, self.df, self.caption = (styler.set_caption(caption) if caption else styler), df, caption

    def to_html(self) -> str:
        return self.styler.to_html()

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return (f"{self.caption}\n" if self.caption else "") + self.df.to_string(index=False)


def _stable(styler, df, caption: str = "") -> Table:
    import hashlib

    return Table(styler.set_uuid(hashlib.sha1(df.to_json().encode()).hexdigest()[:8]), df, caption)


def claims_table(measured: dict):
    """A notebook's measured claims (``{'C3': Claim, ...}``) as a table: claim, our result, status."""
    return table([{"claim": cid, "ours": c.ours, "status": str(c.status)} for cid, c in measured.items()])
