"""Download, verify and extract PASCAL VOC and COCO 2017 (for a machine with internet).

* resumable: a partial ``<file>.part`` is continued with an HTTP ``Range``
  request (restarted if the server ignores it);
* verified: every archive's MD5 is recorded below and checked before
  extraction; a mismatch raises :class:`ChecksumError` naming the file;
* safe: extraction refuses members that would land outside the target
  (``..``, absolute paths, links pointing outside), raising
  :class:`UnsafeArchiveError` naming the member;
* idempotent: a verified, extracted archive leaves a marker, and a rerun does
  nothing for it;
* ``dry_run=True`` lists what would be fetched and where, touching nothing.

Checksums: the VOC MD5s are the ones torchvision's ``VOCDetection`` uses; the
COCO MD5s are the values published alongside the COCO 2017 archives and used
by common download scripts. They could not be re-verified from this project's
build machines (no internet); a mismatch says so and names the file.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional


class ChecksumError(RuntimeError):
    """An archive's MD5 differs from the recorded one."""


class UnsafeArchiveError(RuntimeError):
    """An archive member would be written outside the extraction target."""


class MissingArchiveError(FileNotFoundError):
    """An archive is neither present nor downloadable."""


@dataclass(frozen=True)
class Archive:
    name: str
    url: str
    md5: str
    extract_to: str = "."  # relative to the dataset root

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


VOC_MIRROR = "https://thor.robots.ox.ac.uk/pascal/VOC"
COCO_MIRROR = "http://images.cocodataset.org"

DATASETS: dict[str, tuple[Archive, ...]] = {
    "voc": (
        Archive("VOC2007 trainval", f"{VOC_MIRROR}/voc2007/VOCtrainval_06-Nov-2007.tar", "c52e279531787c972589f7e41ab4ae64"),
        Archive("VOC2007 test", f"{VOC_MIRROR}/voc2007/VOCtest_06-Nov-2007.tar", "b6e924de25625d8de591ea690078ad9f"),
        Archive("VOC2012 trainval", f"{VOC_MIRROR}/voc2012/VOCtrainval_11-May-2012.tar", "6cd6e144f989b92b3379bac3b3de84fd"),
    ),
    "coco": (
        Archive("COCO train2017 images", f"{COCO_MIRROR}/zips/train2017.zip", "cced6f7f71b7629ddf16f17bbcfab6b2", "coco"),
        Archive("COCO val2017 images", f"{COCO_MIRROR}/zips/val2017.zip", "442b8da7639aecaf257c1dceb8ba8c80", "coco"),
        Archive("COCO 2017 annotations", f"{COCO_MIRROR}/annotations/annotations_trainval2017.zip",
                "f4bbac642086de4f52a3fdda2de5fa2c", "coco"),
    ),
}


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _progress(total: Optional[int], initial: int, desc: str):
    try:
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=desc, leave=False)
    except ImportError:  # pragma: no cover
        return None


def fetch(url: str, dest: Path, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, continuing ``dest.part`` if it exists."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # range not satisfiable: the part is complete
            part.rename(dest)
            return dest
        raise MissingArchiveError(f"cannot download {url}: HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise MissingArchiveError(f"cannot download {url}: {e.reason} (no internet? place {dest.name} in {dest.parent} by hand)") from e
    with resp:
        status = getattr(resp, "status", 200)
        mode = "ab" if (have and status == 206) else "wb"
        if mode == "wb":
            have = 0
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        bar = _progress(total, have, dest.name)
        with open(part, mode) as f:
            while True:
                block = resp.read(1 << 20)
                if not block:
                    break
                f.write(block)
                if bar is not None:
                    bar.update(len(block))
        if bar is not None:
            bar.close()
    part.rename(dest)
    return dest


def _inside(target: Path, name: str) -> bool:
    t = target.resolve()
    p = (target / name).resolve()
    return p == t or t in p.parents


def safe_extract(archive: Path, target: Path) -> list[str]:
    """Extract a .tar(.gz) or .zip into ``target``; refuse members that would be written outside it and
    every link (symbolic or hard), device or FIFO member, on every Python version: the VOC and COCO
    archives hold none, and a chain of links can escape a target however each one is checked."""
    import stat

    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
            for info in infos:
                n = info.filename
                if os.path.isabs(n) or not _inside(target, n):
                    raise UnsafeArchiveError(f"{archive.name}: member {n!r} would be written outside {target}")
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise UnsafeArchiveError(f"{archive.name}: link member {n!r} refused (these archives hold no links)")
            z.extractall(target)
        return [i.filename for i in infos]
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            members = t.getmembers()
            for m in members:
                if os.path.isabs(m.name) or not _inside(target, m.name):
                    raise UnsafeArchiveError(f"{archive.name}: member {m.name!r} would be written outside {target}")
                if m.issym() or m.islnk():
                    raise UnsafeArchiveError(f"{archive.name}: link member {m.name!r} -> {m.linkname!r} refused "
                                             "(these archives hold no links)")
                if not (m.isfile() or m.isdir()):
                    raise UnsafeArchiveError(f"{archive.name}: special member {m.name!r} (device or FIFO) refused")
            if hasattr(tarfile, "data_filter"):
                t.extractall(target, members=members, filter="data")
            else:  # Python < 3.11.4 / 3.10.12: every member was checked above and none is a link
                t.extractall(target, members=members)
        return [m.name for m in members]
    raise ChecksumError(f"{archive.name}: neither a tar nor a zip archive (corrupt download?)")


def _marker(root: Path, a: Archive) -> Path:
    return root / ".downloads" / f"{a.filename}.extracted"


def plan(root, archives: Iterable[Archive]) -> list[dict]:
    """What would happen for each archive (used by --dry-run)."""
    root = Path(root)
    out = []
    for a in archives:
        dest = root / ".downloads" / a.filename
        if _marker(root, a).exists():
            action = "done (verified and extracted earlier)"
        elif dest.exists():
            action = "verify and extract the downloaded file"
        elif dest.with_name(dest.name + ".part").exists():
            action = "resume download"
        else:
            action = "download"
        out.append(dict(name=a.name, url=a.url, file=str(dest), extract_to=str(root / a.extract_to), md5=a.md5, action=action))
    return out


def prepare(root, archives: Iterable[Archive], dry_run: bool = False, keep_archives: bool = True, log=print) -> list[dict]:
    """Download (resumably), verify and extract each archive under ``root``."""
    root = Path(root)
    steps = plan(root, archives)
    if dry_run:
        for s in steps:
            log(f"[dry-run] {s['name']}: {s['action']}\n  from {s['url']}\n  to   {s['file']}\n  into {s['extract_to']}")
        return steps
    (root / ".downloads").mkdir(parents=True, exist_ok=True)
    for a in archives:
        marker = _marker(root, a)
        if marker.exists():
            log(f"{a.name}: already verified and extracted, skipping")
            continue
        dest = root / ".downloads" / a.filename
        if not dest.exists():
            log(f"{a.name}: downloading {a.url}")
            fetch(a.url, dest)
        got = md5sum(dest)
        if got != a.md5:
            raise ChecksumError(
                f"{dest}: MD5 {got} differs from the recorded {a.md5} ({a.name}). The file is corrupt or "
                f"incomplete: delete it and run again."
            )
        log(f"{a.name}: MD5 verified, extracting into {root / a.extract_to}")
        safe_extract(dest, root / a.extract_to)
        marker.write_text(a.md5 + "\n")
        if not keep_archives:
            dest.unlink()
    return plan(root, archives)


def with_mirror(archives: Iterable[Archive], mirror: Optional[str]) -> tuple[Archive, ...]:
    """Replace the host part of each URL (everything before the dataset path) by ``mirror``."""
    if not mirror:
        return tuple(archives)
    out = []
    for a in archives:
        base = VOC_MIRROR if a.url.startswith(VOC_MIRROR) else COCO_MIRROR
        out.append(Archive(a.name, mirror.rstrip("/") + a.url[len(base):], a.md5, a.extract_to))
    return tuple(out)
