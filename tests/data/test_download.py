"""alwa.data.download: download, verify and extract (offline, fabricated archives served on loopback); what it refuses."""

import hashlib
import http.server
import io
import re
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from alwa.data import download

ROOT = Path(__file__).resolve().parents[2]


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
