"""Data: the synthetic mini VOC, download+verify (offline, fabricated archives), dataset checks."""

import hashlib
import http.server
import io
import json
import re
import subprocess
import sys
import tarfile
import threading
import time
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from alwa.data import check, download, synthetic
from alwa.data.synthetic import MiniVOCOptions
from alwa.report.plots import plot_report

ROOT = Path(__file__).resolve().parents[2]
SMALL = MiniVOCOptions(n_trainval=24, n_test=8, seed=5)


def tree_hashes(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ synthetic
def test_voc_layout_and_manifest(tmp_path):
    m = synthetic.generate(tmp_path, SMALL, workers=1, progress=False)
    dev = tmp_path / "VOCdevkit"
    for year, split, n in (("VOC2012", "trainval", 24), ("VOC2007", "test", 8)):
        ids = (dev / year / "ImageSets" / "Main" / f"{split}.txt").read_text().split()
        assert len(ids) == n
        for i in ids:
            assert (dev / year / "JPEGImages" / f"{i}.jpg").is_file()
            ET.parse(dev / year / "Annotations" / f"{i}.xml")
    assert m["splits"]["trainval"]["images"] == 24 and len(m["classes"]) >= 6
    assert set(m["sha256"]) == {k for k in tree_hashes(tmp_path) if not k.endswith("mini_voc.json")}


def test_byte_identical_on_rerun_and_independent_of_workers(tmp_path):
    synthetic.generate(tmp_path / "a", SMALL, workers=1, progress=False)
    synthetic.generate(tmp_path / "b", SMALL, workers=2, progress=False)
    ha, hb = tree_hashes(tmp_path / "a"), tree_hashes(tmp_path / "b")
    assert ha == hb
    synthetic.generate(tmp_path / "a", SMALL, workers=2, progress=False)
    assert tree_hashes(tmp_path / "a") == ha
    other = synthetic.generate(tmp_path / "c", MiniVOCOptions(n_trainval=24, n_test=8, seed=6), workers=1, progress=False)
    assert other["sha256"] != json.loads((tmp_path / "a" / "VOCdevkit" / "mini_voc.json").read_text())["sha256"]


def test_ensure_skips_an_existing_identical_dataset(tmp_path):
    synthetic.ensure(tmp_path, SMALL, workers=1, progress=False)
    jpg = next((tmp_path / "VOCdevkit" / "VOC2012" / "JPEGImages").iterdir())
    before = jpg.stat().st_mtime_ns
    time.sleep(0.01)
    synthetic.ensure(tmp_path, SMALL, workers=1, progress=False)
    assert jpg.stat().st_mtime_ns == before


def test_ensure_repairs_a_damaged_dataset(tmp_path):
    """A file changed after generation (e.g. two processes writing different data sets
    into one folder) is noticed through the manifest's hashes and the set is made again."""
    synthetic.ensure(tmp_path, SMALL, workers=1, progress=False)
    good = tree_hashes(tmp_path)
    jpg = sorted((tmp_path / "VOCdevkit" / "VOC2007" / "JPEGImages").iterdir())[0]
    jpg.write_bytes(b"not a jpeg")
    (tmp_path / "VOCdevkit" / "VOC2012" / "Annotations").iterdir().__next__().unlink()
    synthetic.ensure(tmp_path, SMALL, workers=1, progress=False)
    assert tree_hashes(tmp_path) == good


@pytest.fixture(scope="module")
def rendered():
    opts = MiniVOCOptions(seed=3)
    out = []
    for i in range(150):
        img, anns = synthetic.render_image(opts, 0, i)
        out.append((img, anns))
    return opts, out


def test_image_sizes_scales_and_aspects_in_range(rendered):
    opts, out = rendered
    sizes, aspects = [], []
    for img, anns in out:
        h, w, _ = img.shape
        assert 160 <= h <= 320 and 160 <= w <= 320
        for a in anns:
            assert 1 <= a["xmin"] <= a["xmax"] <= w and 1 <= a["ymin"] <= a["ymax"] <= h
            if not a["truncated"]:
                bw, bh = a["xmax"] - a["xmin"] + 1, a["ymax"] - a["ymin"] + 1
                sizes.append(np.sqrt(bw * bh))
                aspects.append(bw / bh)
    sizes, aspects = np.array(sizes), np.array(aspects)
    lo, hi = opts.scale_range
    assert sizes.min() >= 8 and sizes.max() <= hi * 1.15
    assert np.percentile(sizes, 95) / np.percentile(sizes, 5) > 4  # a wide range of scales
    assert aspects.min() < 0.45 and aspects.max() > 2.2  # about 1:3 to 3:1
    assert aspects.min() > 0.25 and aspects.max() < 4.0


def test_every_class_appears_and_colour_does_not_identify_a_class(rendered):
    opts, out = rendered
    colours = defaultdict(Counter)
    for _, anns in out:
        for a in anns:
            colours[a["name"]].update(a["colours"])
    assert set(colours) == set(opts.classes) and len(opts.classes) >= 6
    for cls, c in colours.items():
        assert len(c) >= 8, (cls, c)  # each class is drawn in most of the 12 palette colours
        assert max(c.values()) / sum(c.values()) < 0.3


def test_colour_bias_makes_colour_informative_but_never_identifying():
    """With colour_bias p, an object's first colour is its class's home colour with
    probability about p + (1 - p) / 12; every class still comes in most colours."""
    opts = MiniVOCOptions(colour_bias=0.6)
    first = defaultdict(Counter)
    for i in range(120):
        _, anns = synthetic.render_image(opts, 0, i)
        for a in anns:
            first[a["name"]][a["colours"][0]] += 1
    for cls, c in first.items():
        n, home = sum(c.values()), synthetic.CLASSES.index(cls)
        assert 0.45 < c[home] / n < 0.85, (cls, c)
        assert len(c) >= 6, (cls, c)  # colour alone does not identify the class
    with pytest.raises(ValueError, match="colour_bias"):
        MiniVOCOptions(colour_bias=1.0)


def test_flags_are_truthful(rendered):
    _, out = rendered
    n_trunc = n_occ = n_diff = 0
    for img, anns in out:
        h, w, _ = img.shape
        for a in anns:
            touches = a["xmin"] == 1 or a["ymin"] == 1 or a["xmax"] == w or a["ymax"] == h
            if a["truncated"]:
                assert touches  # a truncated object reaches the border
            if not touches:
                assert a["truncated"] == 0  # an object inside the image is not truncated
            small = min(a["xmax"] - a["xmin"] + 1, a["ymax"] - a["ymin"] + 1) < 8
            assert a["difficult"] == int(a["visible_fraction"] < 0.35 or small)
            assert 0.10 <= a["visible_fraction"] <= 1.0
            n_trunc += a["truncated"]
            n_occ += a["occluded"]
            n_diff += a["difficult"]
    assert n_trunc > 10 and n_occ > 10 and n_diff > 3  # the dataset has all three


def test_flags_agree_with_a_direct_pixel_count():
    """Independent check on one controlled image: one object fully covered by a
    later one must not be annotated; one half outside must be truncated."""
    opts = MiniVOCOptions(seed=0)
    rng = np.random.default_rng(0)
    mask = synthetic.shape_mask("box", 40, 20, rng)
    assert mask.sum() == 40 * 20
    ring = synthetic.shape_mask("ring", 60, 60, rng)
    assert 0.3 < ring.mean() < 0.75 and not ring[30, 30]  # the hole is empty
    assert opts.classes == synthetic.CLASSES


def test_default_size_generates_within_60_cpu_seconds(tmp_path):
    """CPU time of this process (one worker: all the work is here), not wall-clock time: a busy shared machine
    does not fail it (measured: 17 CPU s)."""
    t = time.process_time()
    synthetic.generate(tmp_path, MiniVOCOptions(), workers=1, progress=False)
    assert time.process_time() - t <= 60


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="unknown classes"):
        MiniVOCOptions(classes=("disc", "dragon"))
    with pytest.raises(ValueError, match="image_size"):
        MiniVOCOptions(image_size=(300, 200))


def test_mmdet_voc_dataset_reads_it(tmp_path):
    synthetic.generate(tmp_path, SMALL, workers=1, progress=False)
    from mmdet.datasets import VOCDataset

    ds = VOCDataset(data_root=str(tmp_path / "VOCdevkit"), ann_file="VOC2007/ImageSets/Main/test.txt",
                    data_prefix=dict(sub_data_root="VOC2007/"), metainfo=dict(classes=synthetic.CLASSES),
                    pipeline=[], test_mode=True)
    assert len(ds) == 8
    inst = ds[0]["instances"]
    assert inst and all(0 <= i["bbox_label"] < len(synthetic.CLASSES) for i in inst)


# ------------------------------------------------------------------ download
class RangeHandler(http.server.BaseHTTPRequestHandler):
    files: dict = {}
    requests: list = []

    def do_GET(self):  # noqa: N802
        RangeHandler.requests.append((self.path, self.headers.get("Range")))
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            body = data[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    RangeHandler.files, RangeHandler.requests = {}, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    th = threading.Thread(target=httpd.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", RangeHandler
    httpd.shutdown()


def make_tar(members: dict, links: dict = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            t.addfile(info)
    return buf.getvalue()


def make_zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def test_download_verify_extract_and_idempotent_rerun(tmp_path, server):
    base, H = server
    tar = make_tar({"VOCdevkit/VOC2007/a.txt": b"hello" * 1000})
    z = make_zip({"annotations/x.json": b"{}"})
    H.files = {"/v/a.tar": tar, "/c/b.zip": z}
    arch = [download.Archive("A", f"{base}/v/a.tar", md5(tar)), download.Archive("B", f"{base}/c/b.zip", md5(z), "coco")]
    download.prepare(tmp_path, arch, log=lambda *_: None)
    assert (tmp_path / "VOCdevkit/VOC2007/a.txt").read_bytes() == b"hello" * 1000
    assert (tmp_path / "coco/annotations/x.json").exists()
    n = len(H.requests)
    steps = download.prepare(tmp_path, arch, log=lambda *_: None)
    assert len(H.requests) == n  # nothing fetched again
    assert all(s["action"].startswith("done") for s in steps)


def test_download_resumes_a_partial_file(tmp_path, server):
    base, H = server
    tar = make_tar({"f.bin": bytes(range(256)) * 400})
    H.files = {"/a.tar": tar}
    (tmp_path / ".downloads").mkdir()
    (tmp_path / ".downloads" / "a.tar.part").write_bytes(tar[:5000])
    arch = [download.Archive("A", f"{base}/a.tar", md5(tar))]
    assert download.plan(tmp_path, arch)[0]["action"] == "resume download"
    download.prepare(tmp_path, arch, log=lambda *_: None)
    assert H.requests == [("/a.tar", "bytes=5000-")]
    assert (tmp_path / "f.bin").read_bytes() == bytes(range(256)) * 400


def test_corrupt_archive_is_refused_naming_the_file(tmp_path, server):
    base, H = server
    tar = make_tar({"f.txt": b"x"})
    H.files = {"/bad.tar": tar[:-100] + b"\0" * 100 + b"junk"}
    arch = [download.Archive("A", f"{base}/bad.tar", md5(tar))]
    with pytest.raises(download.ChecksumError, match=r"bad\.tar: MD5 .* differs from the recorded"):
        download.prepare(tmp_path, arch, log=lambda *_: None)
    assert not (tmp_path / "f.txt").exists()
    assert not (tmp_path / ".downloads" / "bad.tar.extracted").exists()


def test_missing_archive_gives_a_clear_error(tmp_path, server):
    base, _ = server
    with pytest.raises(download.MissingArchiveError, match=r"cannot download .*/nope\.tar: HTTP 404"):
        download.prepare(tmp_path, [download.Archive("A", f"{base}/nope.tar", "0" * 32)], log=lambda *_: None)


@pytest.mark.parametrize(
    "payload, member",
    [
        (lambda: make_tar({"ok.txt": b"1", "../evil.txt": b"2"}), "../evil.txt"),
        (lambda: make_tar({"/abs/evil.txt": b"2"}), "/abs/evil.txt"),
        (lambda: make_tar({"ok.txt": b"1"}, links={"link": "../../etc/passwd"}), "link"),
        (lambda: make_zip({"ok.txt": b"1", "../../evil.txt": b"2"}), "../../evil.txt"),
    ],
)
def test_path_traversal_is_refused(tmp_path, server, payload, member):
    base, H = server
    data = payload()
    H.files = {"/t.bin": data}
    target = tmp_path / "root"
    with pytest.raises(download.UnsafeArchiveError, match=member.replace(".", r"\.")):
        download.prepare(target, [download.Archive("T", f"{base}/t.bin", md5(data))], log=lambda *_: None)
    assert not (tmp_path / "evil.txt").exists() and not (target / "ok.txt").exists()


def test_dry_run_lists_and_touches_nothing(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "data_scripts/download.py"), "coco", "--root", str(tmp_path / "d"), "--dry-run"],
                         capture_output=True, text=True, check=True).stdout
    assert "train2017.zip" in out and "annotations_trainval2017.zip" in out and "into" in out
    assert not (tmp_path / "d").exists()


def test_recorded_checksums_are_well_formed():
    for arch in download.DATASETS.values():
        for a in arch:
            assert re.fullmatch(r"[0-9a-f]{32}", a.md5) and a.url.endswith(a.filename)


# ------------------------------------------------------------------ checks
def test_check_voc_counts_and_finds_problems(tmp_path):
    synthetic.generate(tmp_path, SMALL, workers=1, progress=False)
    rep = check.check_voc(tmp_path)
    assert rep.ok and rep.images == {"VOC2007/test": 8, "VOC2012/trainval": 24}
    n_xml = sum(len(ET.parse(p).findall("object")) for p in (tmp_path / "VOCdevkit/VOC2012/Annotations").glob("*.xml"))
    assert sum(rep.objects["VOC2012/trainval"].values()) == n_xml
    year = tmp_path / "VOCdevkit/VOC2007"
    stems = (year / "ImageSets/Main/test.txt").read_text().split()
    (year / "JPEGImages" / f"{stems[0]}.jpg").write_bytes(b"not a jpeg")
    xml = year / "Annotations" / f"{stems[1]}.xml"
    tree = ET.parse(xml)
    obj = tree.find("object")
    obj.find("bndbox/xmax").text = "5000"
    tree.write(xml)
    rep = check.check_voc(tmp_path)
    assert not rep.ok
    assert len(rep.unreadable) == 1 and stems[0] in rep.unreadable[0][1]
    assert len(rep.outside) == 1 and stems[1] in rep.outside[0][1]
    fig_path = tmp_path / "report.png"
    plot_report(rep, fig_path)
    assert fig_path.stat().st_size > 10_000
    res = subprocess.run([sys.executable, str(ROOT / "data_scripts/check_dataset.py"), "--voc", str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 1 and "outside" in res.stdout


def test_check_coco(tmp_path):
    from PIL import Image

    (tmp_path / "img").mkdir()
    Image.new("RGB", (100, 50)).save(tmp_path / "img" / "1.jpg")
    (tmp_path / "img" / "2.jpg").write_bytes(b"\xff\xd8 broken")
    ann = {
        "images": [{"id": 1, "file_name": "1.jpg", "width": 100, "height": 50}, {"id": 2, "file_name": "2.jpg", "width": 10, "height": 10}],
        "categories": [{"id": 7, "name": "cat"}],
        "annotations": [
            {"image_id": 1, "category_id": 7, "bbox": [10, 10, 20, 30], "iscrowd": 0},
            {"image_id": 1, "category_id": 7, "bbox": [90, 10, 20, 10], "iscrowd": 1},
            {"image_id": 1, "category_id": 7, "bbox": [5, 5, 0, 3], "iscrowd": 0},
        ],
    }
    (tmp_path / "a.json").write_text(json.dumps(ann))
    rep = check.check_coco(tmp_path / "a.json", tmp_path / "img")
    assert rep.images == {"a": 2} and rep.objects["a"]["cat"] == 3 and rep.difficult["a"] == 1
    assert len(rep.unreadable) == 1 and len(rep.outside) == 1 and len(rep.degenerate) == 1
    assert rep.box_sizes["a"][0] == pytest.approx(np.sqrt(600))


# ------------------------------------------------------------------ bad input (issue 17, data)
def test_make_mini_voc_refuses_a_folder_with_other_files(tmp_path):
    """Pointed at a real VOC root it once replaced ImageSets lists with synthetic ids."""
    voc = tmp_path / "VOCdevkit" / "VOC2012" / "ImageSets" / "Main"
    voc.mkdir(parents=True)
    (voc / "trainval.txt").write_text("2008_000001\n")
    for fn in (synthetic.generate, synthetic.ensure):
        with pytest.raises(synthetic.DatasetFolderError, match="did not write"):
            fn(tmp_path, SMALL, workers=1, progress=False)
        with pytest.raises(synthetic.DatasetFolderError, match="did not write"):
            fn(tmp_path, SMALL, workers=1, progress=False, force=True)
    assert (voc / "trainval.txt").read_text() == "2008_000001\n"
    r = subprocess.run([sys.executable, str(ROOT / "data_scripts/make_mini_voc.py"), "--out", str(tmp_path), "--n-trainval", "4",
                        "--n-test", "2", "--workers", "1"], capture_output=True, text=True)
    assert r.returncode != 0 and "did not write" in r.stderr and "Traceback" not in r.stderr
    assert (voc / "trainval.txt").read_text() == "2008_000001\n"


def test_other_options_need_force(tmp_path):
    synthetic.ensure(tmp_path, SMALL, workers=1, progress=False)
    bigger = MiniVOCOptions(n_trainval=30, n_test=8, seed=5)
    for fn in (synthetic.generate, synthetic.ensure):
        with pytest.raises(synthetic.DatasetFolderError, match=r"other options \(n_trainval: 24 -> 30\).*--force"):
            fn(tmp_path, bigger, workers=1, progress=False)
    smaller = MiniVOCOptions(n_trainval=10, n_test=8, seed=5)
    m = synthetic.generate(tmp_path, smaller, workers=1, progress=False, force=True)
    assert m["splits"]["trainval"]["images"] == 10
    # the larger set's files went with it: what is there is exactly what the manifest lists
    assert set(m["sha256"]) == {k for k in tree_hashes(tmp_path) if not k.endswith("mini_voc.json")}
    synthetic.ensure(tmp_path, smaller, workers=1, progress=False)  # its own output: no error


def _voc_with(tmp_path, xml: str):
    year = tmp_path / "VOCdevkit" / "VOC2007"
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (year / sub).mkdir(parents=True, exist_ok=True)
    (year / "ImageSets" / "Main" / "test.txt").write_text("000001\n")
    (year / "Annotations" / "000001.xml").write_text(xml)
    from PIL import Image

    Image.new("RGB", (100, 80)).save(year / "JPEGImages" / "000001.jpg")
    return tmp_path


OBJ = "<object><name>{name}</name><difficult>0</difficult>{box}</object>"
BOX = "<bndbox><xmin>{}</xmin><ymin>10</ymin><xmax>50</xmax><ymax>40</ymax></bndbox>"
SIZE = "<size><width>100</width><height>80</height><depth>3</depth></size>"


@pytest.mark.parametrize("xml, finding", [
    (f"<annotation>{SIZE}{OBJ.format(name='disc', box=BOX.format('nan'))}</annotation>", "xmin='nan'"),
    (f"<annotation>{SIZE}{OBJ.format(name='disc', box=BOX.format('ten'))}</annotation>", "xmin='ten'"),
    (f"<annotation>{SIZE}{OBJ.format(name='disc', box='')}</annotation>", "without <bndbox>"),
    (f"<annotation>{SIZE}{OBJ.format(name='', box=BOX.format(5))}</annotation>", "without <name>"),
    (f"<annotation>{OBJ.format(name='disc', box=BOX.format(5))}</annotation>", "no <size>"),
    (f"<annotation><size><width>w</width><height>80</height></size>{OBJ.format(name='disc', box=BOX.format(5))}</annotation>",
     "non-numeric width"),
])
@pytest.mark.parametrize("read_images", [True, False])
def test_check_dataset_reports_malformed_annotations_as_findings(tmp_path, xml, finding, read_images):
    rep = check.check_voc(_voc_with(tmp_path, xml), read_images=read_images)
    assert not rep.ok and len(rep.malformed) == 1 and finding in rep.malformed[0][2]
    assert rep.summary()["counts"]["malformed"] == 1
    r = subprocess.run([sys.executable, str(ROOT / "data_scripts/check_dataset.py"), "--voc", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "malformed" in r.stdout


def test_check_coco_reports_a_bad_bbox(tmp_path):
    ann = {"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}], "categories": [{"id": 1, "name": "x"}],
           "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [1, "two", 3, 4]},
                           {"id": 8, "image_id": 1, "category_id": 1, "bbox": [1, 2, float("nan"), 4]},
                           {"id": 9, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}]}
    (tmp_path / "a.json").write_text(json.dumps(ann))
    rep = check.check_coco(tmp_path / "a.json", read_images=False)
    assert [m[2].split(":")[0] for m in rep.malformed] == ["annotation 7", "annotation 8", "annotation 9"]


def _tar_with(kind: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("dir/ok.txt")
        info.size = 1
        t.addfile(info, io.BytesIO(b"1"))
        info = tarfile.TarInfo("dir/l")
        info.type = {"sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE}[kind]
        info.linkname = "ok.txt" if kind != "fifo" else ""
        t.addfile(info)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["sym", "hard", "fifo"])
@pytest.mark.parametrize("data_filter", [True, False])
def test_every_link_member_is_refused_on_every_python(tmp_path, monkeypatch, kind, data_filter):
    """Even a link pointing inside the target is refused (a chain of such links escaped without
    tarfile.data_filter); data_filter=False is a Python without it."""
    if not data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    arch = tmp_path / "a.tar"
    arch.write_bytes(_tar_with(kind))
    with pytest.raises(download.UnsafeArchiveError, match="refused"):
        download.safe_extract(arch, tmp_path / "out")
    assert not (tmp_path / "out" / "dir").exists()


def test_a_zip_symlink_is_refused(tmp_path):
    arch = tmp_path / "a.zip"
    with zipfile.ZipFile(arch, "w") as z:
        z.writestr("ok.txt", b"1")
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "ok.txt")
    with pytest.raises(download.UnsafeArchiveError, match="link member 'link'"):
        download.safe_extract(arch, tmp_path / "out")


def test_requires_python_is_what_the_pinned_stack_needs():
    """pyproject's requires-python is no looser than the Requires-Python of the pinned numpy, scipy and pandas."""
    import re
    from importlib import metadata

    text = (ROOT / "pyproject.toml").read_text()
    ours = re.search(r'requires-python\s*=\s*">=(\d+)\.(\d+)"', text)
    assert ours, "requires-python must be a plain lower bound"
    low = (int(ours[1]), int(ours[2]))
    for dist in ("numpy", "scipy", "pandas", "torch"):
        need = metadata.metadata(dist).get("Requires-Python") or ""
        m = re.search(r">=\s*(\d+)\.(\d+)", need)
        if m:
            assert low >= (int(m[1]), int(m[2])), f"{dist} {metadata.version(dist)} needs Python {need}, we say >={low}"
    assert sys.version_info[:2] >= low
