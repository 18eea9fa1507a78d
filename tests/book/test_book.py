"""The book: it builds at the smoke profile with warnings as errors (papermill
executes every notebook), and the HTML works in headless Chromium: every page
loads, every image renders, no internal link is broken."""

import http.server
import json
import re
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory, smoke_results_root):
    from alwa.book import build as book

    base = tmp_path_factory.mktemp("book")
    html = book.build("smoke", results_root=str(smoke_results_root), stage=str(base / "stage"), out=str(base / "out"))
    return html


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids, self.imgs = [], set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "img" and a.get("src"):
            self.imgs.append(a["src"])


def pages(html: Path):
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)


@pytest.mark.slow
def test_book_has_every_chapter(smoke_book):
    names = {p.relative_to(smoke_book).as_posix() for p in pages(smoke_book)}
    for want in ("index.html", "book/generated/claims.html", "book/method.html", "book/executed/01_box_shifting.html",
                 "book/executed/02_loss_weight_grid.html", "book/executed/03_alwa_training.html", "book/executed/04_ablations.html",
                 "book/executed/05_lr_study.html", "book/executed/05b_first_study.html",
                 "book/use_pytorch.html", "book/generated/use_mmdet.html", "book/generated/data.html", "book/generated/tuning.html",
                 "book/generated/calibrations.html", "book/gpu.html",
                 "book/performance.html", "book/generated/speed.html"):
        assert want in names, want
    claims = (smoke_book / "book/generated/claims.html").read_text()
    assert "SMOKE" in claims and all(f">C{i}<" in claims for i in range(1, 12))


@pytest.mark.slow
def test_glued_numbers_appear_in_the_prose(smoke_book):
    """Every {glue:text} role of a page renders one non-empty value without quotes (myst-nb
    renders a role it cannot resolve as nothing, silently)."""
    sources = list((ROOT / "book").glob("*.md")) + list((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    checked = 0
    for src in sources:
        roles = len(re.findall(r"\{glue:text\}`", src.read_text()))
        if not roles:
            continue
        sub = "book/executed" if src.suffix == ".ipynb" else "book"
        html = (smoke_book / sub / f"{src.stem}.html").read_text()
        pasted = re.findall(r'<span class="pasted-text">(.*?)</span>', html)
        assert len(pasted) == roles, (src.name, pasted)
        assert all(v.strip() and v[0] not in "'\"" for v in pasted), (src.name, pasted)
        checked += roles
    assert checked >= 10


@pytest.mark.slow
def test_no_broken_internal_links(smoke_book):
    parsed = {}
    for p in pages(smoke_book):
        lp = Links()
        lp.feed(p.read_text(errors="replace"))
        parsed[p.resolve()] = lp
    broken = []
    for p, lp in parsed.items():
        for href in lp.links + lp.imgs:
            if re.match(r"^[a-z]+:", href) or href.startswith("//"):
                continue
            target, frag = urldefrag(href)
            t = (p.parent / unquote(target)).resolve() if target else p
            if not t.exists():
                broken.append((str(p.relative_to(smoke_book.resolve())), href))
            elif frag and t.suffix == ".html" and t in parsed and frag not in parsed[t].ids:
                broken.append((str(p.relative_to(smoke_book.resolve())), href))
    assert not broken, broken[:20]


CHECK_PAGE = """<!doctype html><html><body><pre id="out">running</pre><script>
const pages = %s;
const results = [];
function one(i) {
  if (i >= pages.length) { document.getElementById('out').textContent = JSON.stringify(results); return; }
  const f = document.createElement('iframe');
  f.style.width = '1280px'; f.style.height = '900px';
  f.onload = () => setTimeout(() => {
    const d = f.contentDocument;
    const imgs = Array.from(d.images).map(im => ({src: im.getAttribute('src'), ok: im.complete && im.naturalWidth > 0,
                                                  shown: im.getBoundingClientRect().width, natural: im.naturalWidth}));
    // a code cell a reader has to scroll sideways: its <pre> is wider inside than the box that shows it
    const code = Array.from(d.querySelectorAll('div.cell_input pre, div.highlight pre'))
      .filter(p => p.scrollWidth > p.clientWidth + 1)
      .map(p => ({over: p.scrollWidth - p.clientWidth, line: p.innerText.split('\\n').reduce((a, b) => a.length >= b.length ? a : b, '')}));
    // a table wider than the box that shows it: the reader scrolls it sideways, or misses its last columns
    const tables = Array.from(d.querySelectorAll('table'))
      .filter(t => t.parentElement && Math.max(t.scrollWidth, t.getBoundingClientRect().width) > t.parentElement.clientWidth + 1)
      .map(t => ({over: Math.round(Math.max(t.scrollWidth, t.getBoundingClientRect().width) - t.parentElement.clientWidth),
                  head: Array.from(t.querySelectorAll('th')).slice(0, 4).map(h => h.innerText.trim()).join(' | ')}));
    const main = d.querySelector('main') || d.querySelector('article') || d.body;
    // the first screen (900 px): the text of the blocks and the images that start in it
    const top = Array.from(d.querySelectorAll('main p, main h1, main h2, article p, article h1'))
      .filter(e => e.getBoundingClientRect().top < 900).map(e => e.innerText).join('\\n');
    const topImgs = Array.from(d.images).filter(im => im.getBoundingClientRect().top < 900 && im.getBoundingClientRect().width > 200).length;
    const glueCode = Array.from(d.querySelectorAll('div.cell_input')).filter(c => c.innerText.includes('glue(')).length;
    results.push({page: pages[i], title: d.title, body: d.body ? d.body.innerText.length : 0, imgs: imgs, code: code, tables: tables,
                  text_width: main ? main.getBoundingClientRect().width : 0, height: d.documentElement.scrollHeight,
                  top: top, top_imgs: topImgs, glue_code: glueCode, text: d.body ? d.body.innerText : ''});
    f.remove(); one(i + 1);
  }, 300);
  f.src = pages[i];
  document.body.appendChild(f);
}
one(0);
</script></body></html>"""


def browse(html: Path, profile_dir: Path) -> list[dict]:
    """Every page of the built book ``html`` loaded in headless Chromium at a 1200 px wide window: per page its
    images (loaded, shown width, natural width), the code cells that overflow sideways and the text's width."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is installed by `make setup` (tools/install_browser.sh)"
    rel = [p.relative_to(html).as_posix() for p in pages(html)]
    (html / "__check.html").write_text(CHECK_PAGE % json.dumps(rel))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(html), **k)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/__check.html"
        res = subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                              f"--user-data-dir={profile_dir}", "--virtual-time-budget=60000", "--dump-dom", url],
                             capture_output=True, text=True, timeout=300)
    finally:
        httpd.shutdown()
        (html / "__check.html").unlink()
    m = re.search(r'<pre id="out">(.*?)</pre>', res.stdout, flags=re.S)
    assert m, res.stderr[-2000:]
    import html as htmllib

    data = json.loads(htmllib.unescape(m.group(1)))
    assert len(data) == len(rel)
    return data


@pytest.fixture(scope="module")
def browsed(smoke_book, tmp_path_factory):
    return browse(smoke_book, tmp_path_factory.mktemp("chromium"))


@pytest.mark.slow
def test_pages_load_and_images_render_in_chromium(browsed):
    for page in browsed:
        assert page["body"] > 100, page["page"]  # the page loaded and has content
        bad = [i["src"] for i in page["imgs"] if not i["ok"]]
        assert not bad, (page["page"], bad)
    assert sum(len(p["imgs"]) for p in browsed) >= 5  # the figures are there


MIN_PANEL_PX = 200  # a panel of a figure, as shown on a reader's page (1200 px window: a 612 px text column), is at least this wide


MAX_CHAPTER_PX = 8000  # a chapter a reader can take in: chapter 05 at most this tall at 1280 px
DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")


def reader_problems(data: list[dict]) -> list[str]:
    """What a reader's page must not hold: a code cell that calls glue( (plumbing), a date (a run's history) on a
    chapter or the intro; and the answer first: the intro's first 900 px hold the answer and a figure, chapter 05 is
    at most MAX_CHAPTER_PX tall."""
    out = []
    for page in data:
        if page.get("glue_code"):
            out.append(f"{page['page']}: {page['glue_code']} code cell(s) calling glue( are shown")
        if (page["page"] == "index.html" or page["page"].startswith("book/executed/")) and DATE.search(page.get("text", "")):
            out.append(f"{page['page']}: a date on a reader's page: {DATE.search(page['text']).group(0)}")
        if page["page"] == "index.html":
            if "The answer" not in page.get("top", ""):
                out.append("index.html: the answer is not in the first 900 px")
            if not page.get("top_imgs"):
                out.append("index.html: no figure in the first 900 px")
        if page["page"] == "book/executed/05_lr_study.html" and page.get("height", 0) > MAX_CHAPTER_PX:
            out.append(f"book/executed/05_lr_study.html: {page['height']} px tall (at most {MAX_CHAPTER_PX})")
    return out


def layout_problems(data: list[dict], html: Path) -> list[str]:
    """What a reader of the pages ``data`` (:func:`browse`) would have to fight: a code cell or a table wider than
    its box, or a figure whose panels side by side (the PNG's ``alwa:columns``, written by the notebooks' figure
    display) are shown narrower than :data:`MIN_PANEL_PX` each."""
    from PIL import Image

    from alwa.report.plots import COLUMNS_KEY

    out = []
    for page in data:
        for c in page["code"]:
            out.append(f"{page['page']}: a code line runs {c['over']} px past its box: {c['line'][:90]!r}")
        for t in page.get("tables", []):
            out.append(f"{page['page']}: a table runs {t['over']} px past its box: {t['head'][:90]!r}")
        for im in page["imgs"]:
            f = (html / page["page"]).parent / im["src"]
            cols = Image.open(f).text.get(COLUMNS_KEY) if f.suffix == ".png" and f.exists() else None
            if cols is not None and im["shown"] / int(cols) < MIN_PANEL_PX:
                out.append(f"{page['page']}: {im['src']} shows {cols} panels side by side in {im['shown']:.0f} px "
                           f"({im['shown'] / int(cols):.0f} px each, fewer than {MIN_PANEL_PX})")
    return out


@pytest.mark.slow
def test_code_fits_its_box_and_every_figure_panel_reads_at_the_books_width(browsed, smoke_book):
    """Headless Chromium at 1200 px: no code cell or table of any page scrolls sideways, and every figure the notebooks show
    gives each of its side-by-side panels at least MIN_PANEL_PX (figures carry their panel columns)."""
    shown = [im for page in browsed for im in page["imgs"] if im["src"].endswith(".png")]
    assert shown, "no figure on any page"
    assert layout_problems(browsed, smoke_book) == []


def test_the_reader_check_names_plumbing_dates_a_late_answer_and_a_long_chapter():
    data = [{"page": "index.html", "glue_code": 0, "text": "made 2026-12-02", "top": "Revisiting", "top_imgs": 0},
            {"page": "book/executed/05_lr_study.html", "glue_code": 2, "text": "", "height": 16000}]
    problems = reader_problems(data)
    assert problems == ["index.html: a date on a reader's page: 2026-12-02", "index.html: the answer is not in the first 900 px",
                        "index.html: no figure in the first 900 px",
                        "book/executed/05_lr_study.html: 2 code cell(s) calling glue( are shown",
                        "book/executed/05_lr_study.html: 16000 px tall (at most 8000)"]


def test_the_layout_check_names_an_overflowing_cell_and_a_squeezed_figure(tmp_path):
    """The check above can fail: a page with a code line and a table past their boxes and a 4-panel figure shown
    700 px wide."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from alwa.report.plots import png_bytes

    fig, axes = plt.subplots(1, 4, figsize=(12, 3))
    (tmp_path / "wide.png").write_bytes(png_bytes(fig))
    plt.close(fig)
    fig, axes = plt.subplots(2, 1, figsize=(6.5, 5))
    (tmp_path / "stacked.png").write_bytes(png_bytes(fig))
    plt.close(fig)
    data = [{"page": "a.html", "code": [{"over": 120, "line": "x = 1"}], "tables": [{"over": 48, "head": "mAP | name"}],
             "imgs": [{"src": "wide.png", "shown": 700.0}, {"src": "stacked.png", "shown": 600.0}]}]
    problems = layout_problems(data, tmp_path)
    assert len(problems) == 3 and "runs 120 px past its box" in problems[0]
    assert problems[1] == "a.html: a table runs 48 px past its box: 'mAP | name'"
    assert "wide.png shows 4 panels side by side in 700 px (175 px each" in problems[2]


def test_a_staged_book_carries_the_style_sheets_that_make_its_code_fit(tmp_path):
    """The smoke and gpu books are built from a staged copy of the sources: it has _static/ (alwa.css wraps outputs),
    so a staged page is laid out as the published one."""
    from alwa.book.build import stage_sources

    stage_sources(tmp_path / "stage", source=ROOT)
    for f in (ROOT / "_static").rglob("*"):
        if f.is_file():
            copy = tmp_path / "stage" / f.relative_to(ROOT)
            assert copy.read_bytes() == f.read_bytes(), copy
    assert (tmp_path / "stage" / "_static" / "alwa.css").is_file()


def test_tuning_page_lists_every_recorded_run():
    """Every entry of book/data/tuning_runs.yaml becomes one table row of the tuning page."""
    import yaml

    from alwa.report.pages import tuning_page

    data = yaml.safe_load((ROOT / "book" / "data" / "tuning_runs.yaml").read_text())
    n = sum(len(v) for v in data.values() if isinstance(v, list))
    page = tuning_page(ROOT)
    rows = [line for line in page.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    headers = sum(1 for v in data.values() if isinstance(v, list) and v)
    assert n > 10 and len(rows) == n + headers
    assert "0.12466" in page  # a recorded value, carried over as written


def test_claims_page_labels_its_profile(tmp_path):
    """Smoke claims carry the not-evidence warning and no verdicts; cpu claims carry the mini-scale caveat."""
    from alwa.report.pages import claims_page

    smoke, cpu = claims_page("smoke", str(tmp_path)), claims_page("cpu", str(tmp_path))
    assert "not evidence" in smoke and "smoke: no verdict" in smoke and "far from convergence" not in smoke
    assert "far from convergence" in cpu and "not evidence" not in cpu and "smoke: no verdict" not in cpu
    assert re.findall(r"^\| (C\d+) \|", cpu, flags=re.M) == [f"C{i}" for i in range(1, 12)]  # one row per claim, measured or not


def test_claims_page_says_how_many_runs_it_rests_on(tmp_path):
    from alwa.runs import specs as ex
    from alwa.report.pages import claims_page
    from alwa.runs.profile import load_profile

    planned = len(ex.profile_specs(load_profile("cpu", None, str(tmp_path))))
    empty = claims_page("cpu", str(tmp_path))
    assert f"**Runs behind this page:** 0 of the profile's {planned} planned training runs" in empty
    assert "too few runs* or count only the seeds that exist" in empty


def test_calibrations_page_sets_an_archived_calibration_beside_the_current_one(tmp_path):
    """Verdicts, settings, run counts and baseline levels of the current and an archived calibration, side by side."""
    import yaml

    from alwa.runs import specs as ex
    from alwa.report.pages import calibrations_page
    from alwa.runs.profile import load_profile

    assert "No earlier calibration of profile smoke is archived" in calibrations_page("smoke", str(tmp_path))
    p = load_profile("smoke", None, str(tmp_path))
    old = p.replace(dataset=dict(p.dataset, classes=["disc", "box", "triangle", "cross"]), setting=dict(p.setting, iters=30))
    archive = tmp_path / "archive" / "four_classes"
    for root, params, maps, status in ((tmp_path / "smoke", p, [0.30, 0.32], "supported"),
                                       (archive, old, [0.50, 0.54], "not supported")):
        (root / "runs").mkdir(parents=True, exist_ok=True)
        (root / "claims").mkdir()
        (root / "claims" / "alwa.json").write_text(json.dumps({"claims": {"C6": {"ours": f"delta at {maps[0]}", "status": status}}}))
        for seed, m in enumerate(maps):  # two seeds of the RetinaNet L1 baseline
            name = ex.experiment_of(params, "retinanet", "l1", "base").name
            spec = next(s for s in ex.alwa_specs(params) if s.name == name and s.seed == seed).to_dict()
            (root / "runs" / f"{name}__s{seed}.json").write_text(json.dumps({"name": name, "seed": seed, "mAP": m, "wall_seconds": 1.0,
                                                                            "spec": spec}))
    (archive / "params.yaml").write_text(yaml.safe_dump(old.as_dict()))
    page = calibrations_page("smoke", str(tmp_path))
    planned = len(ex.profile_specs(p))
    assert "| current (this book) | 7 classes" in page and "RetinaNet 12 iterations, Faster R-CNN 12 |" in page
    assert "| archive/four_classes | 4 classes (disc, box, triangle, cross); RetinaNet 30 iterations" in page
    assert page.count(f"| 2 of {planned} |") == 2
    assert "31.00 [18.29, 43.71] (2 seeds)" in page and "52.00 [26.59, 77.41] (2 seeds)" in page  # mean +- 12.706 * sd / sqrt(2)
    assert "| C6 | **supported** | **not supported** |" in page
    assert "- current (this book): delta at 0.3" in page and "- archive/four_classes: delta at 0.5" in page


def test_claims_page_gives_a_verdict_per_regime(tmp_path):
    """The per-regime verdicts come from the claim store (claims/regimes.json), not from a chapter's table file."""
    from alwa.analysis.records import Claim
    from alwa.report import pages
    from alwa.report.store import save_regime_claims
    from alwa.runs.profile import load_profile

    assert "has not been executed" in pages.claims_page("cpu", str(tmp_path))
    p = load_profile("cpu", results_root=str(tmp_path))
    verdicts = {c: {"short": Claim(c, "x", "not supported"), "tuned": Claim(c, "y", "inconclusive"),
                    "paper": Claim(c, "z", "supported")} for c in pages.REGIME_CLAIMS}
    context = {"stage": "regimes", "schedule": 1500, "tuned_lr": 0.04, "runs_done": 10, "runs_planned": 99}
    save_regime_claims(p, verdicts, context)
    lines = pages.claims_page("cpu", str(tmp_path)).split("## Per regime")[1].splitlines()
    rows = [x for x in lines if x.startswith("| C")]
    assert [r.split(" |")[0] for r in rows] == [f"| {c}" for c in pages.REGIME_CLAIMS]
    assert all("**not supported**: x" in r and "**inconclusive**: y" in r and "**supported**: z" in r for r in rows)
    assert "10 of 99 planned runs" in "\n".join(lines)
    assert "converged" not in "\n".join(lines)  # the state does not say: the page does not guess
    for converged, says in ((False, "**not converged** by the cap"), (True, "schedule 1500, converged;")):
        save_regime_claims(p, verdicts, {**context, "converged": converged})
        assert says in pages.claims_page("cpu", str(tmp_path)).split("## Per regime")[1]


def test_claims_page_gives_the_settling_studys_verdicts_per_loss(tmp_path):
    """C6 and C11 per regression loss come from the claim store (claims/by_loss.json), with the study's state."""
    from alwa.analysis.records import Claim
    from alwa.report import pages
    from alwa.report.store import save_loss_claims
    from alwa.runs.profile import load_profile

    assert "no verdict per loss" in pages.claims_page("cpu", str(tmp_path))
    p = load_profile("cpu", results_root=str(tmp_path))
    by = {"C6": {"l1": Claim("C6", "a", "inconclusive at mini scale"), "smoothl1": Claim("C6", "b", "not supported")},
          "C11": {"l1": Claim("C11", "c", "not supported")}}
    save_loss_claims(p, by, {"stage": "arms", "runs_done": 155, "runs_planned": 160})
    page = pages.claims_page("cpu", str(tmp_path))
    assert page.index("## Per regression loss") < page.index("## Every claim, from the published short runs")  # strongest first
    part = page.split("## Per regression loss")[1].split("## Every claim")[0]
    assert "| claim | L1 | SmoothL1 |" in part and "155 of 160 planned runs finished (stage: arms; **interim**" in part
    rows = [x for x in part.splitlines() if x.startswith("| C")]
    assert rows == ["| C6 | **inconclusive at mini scale**: a | **not supported**: b |", "| C11 | **not supported**: c | **not run**:  |"]


@pytest.mark.slow
def test_a_chapter_opens_without_its_plumbing(smoke_book):
    """The parameters cell, papermill's injected one and the setup cell's code are not on a reader's page; the setup
    cell's output (the profile header) is."""
    for nb in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        html = (smoke_book / "book" / "executed" / f"{nb.stem}.html").read_text()
        text = re.sub(r"<[^>]+>", "", html)
        assert "max_runs = " not in text and "# Parameters" not in text, nb.stem
        assert "nbh.setup(" not in text and "results in" in text, nb.stem


@pytest.mark.slow
def test_the_mmdet_page_has_the_stock_detector_table(smoke_book):
    html = (smoke_book / "book" / "generated" / "use_mmdet.html").read_text()
    assert "On MMDetection" in html and "GFLHead" in html and "loss_dfl" in html and "No record yet" not in html
