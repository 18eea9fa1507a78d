"""Dataset checks for VOC-layout (real or synthetic) and COCO-format datasets.

``check_voc(root)`` / ``check_coco(ann_file, img_dir)`` return a
:class:`DatasetReport`: images per split, objects per class, box sizes
(sqrt of area, px) and aspect ratios (w/h), unreadable images, boxes outside
their image and degenerate boxes. ``plot_report`` draws it (one figure, four
panels) for the book.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image


@dataclass
class DatasetReport:
    name: str
    images: dict = field(default_factory=dict)  # split -> number of images
    objects: dict = field(default_factory=dict)  # split -> {class: count}
    difficult: dict = field(default_factory=dict)  # split -> count of difficult/crowd objects
    box_sizes: dict = field(default_factory=dict)  # split -> list of sqrt(w*h)
    aspects: dict = field(default_factory=dict)  # split -> list of w/h
    unreadable: list = field(default_factory=list)  # (split, file, reason)
    outside: list = field(default_factory=list)  # (split, file, box, (w, h))
    degenerate: list = field(default_factory=list)  # (split, file, box)
    malformed: list = field(default_factory=list)  # (split, file, what is wrong): missing <size>/<bndbox>/<name>, NaN or text coordinates

    @property
    def ok(self) -> bool:
        return not (self.unreadable or self.outside or self.degenerate or self.malformed)

    def summary(self) -> dict:
        out = {"name": self.name, "ok": self.ok, "splits": {}}
        for s in self.images:
            sizes = np.asarray(self.box_sizes.get(s, []), float)
            asp = np.asarray(self.aspects.get(s, []), float)
            q = (lambda a, p: float(np.percentile(a, p)) if a.size else None)
            out["splits"][s] = {
                "images": self.images[s],
                "objects": int(sum(self.objects.get(s, {}).values())),
                "objects_per_class": dict(sorted(self.objects.get(s, {}).items())),
                "difficult": self.difficult.get(s, 0),
                "box_size_px": {"p5": q(sizes, 5), "median": q(sizes, 50), "p95": q(sizes, 95)},
                "aspect_w_over_h": {"p5": q(asp, 5), "median": q(asp, 50), "p95": q(asp, 95)},
            }
        out["unreadable"] = [list(map(str, u)) for u in self.unreadable[:50]]
        out["outside"] = [[s, f, list(b), list(wh)] for s, f, b, wh in self.outside[:50]]
        out["degenerate"] = [[s, f, list(b)] for s, f, b in self.degenerate[:50]]
        out["malformed"] = [list(map(str, m)) for m in self.malformed[:50]]
        out["counts"] = {"unreadable": len(self.unreadable), "outside": len(self.outside), "degenerate": len(self.degenerate),
                         "malformed": len(self.malformed)}
        return out


def _image_size(path: Path) -> tuple[Optional[tuple[int, int]], Optional[str]]:
    try:
        with Image.open(path) as im:
            im.load()  # decodes fully: truncated/corrupt files fail here
            return im.size, None
    except Exception as e:  # noqa: BLE001 - every failure is a finding
        return None, f"{type(e).__name__}: {e}"


def _add_box(rep: DatasetReport, split: str, fname: str, cls: str, box, size, difficult: bool, one_based: bool):
    x0, y0, x1, y1 = box
    w, h = (x1 - x0 + 1, y1 - y0 + 1) if one_based else (x1 - x0, y1 - y0)
    rep.objects.setdefault(split, Counter())[cls] += 1
    if difficult:
        rep.difficult[split] = rep.difficult.get(split, 0) + 1
    if w <= 0 or h <= 0:
        rep.degenerate.append((split, fname, tuple(box)))
        return
    rep.box_sizes.setdefault(split, []).append(float(np.sqrt(w * h)))
    rep.aspects.setdefault(split, []).append(float(w / h))
    if size is not None:
        W, H = size
        lo = 1 if one_based else 0
        hi_w, hi_h = (W, H) if one_based else (W, H)
        if x0 < lo or y0 < lo or x1 > hi_w or y1 > hi_h:
            rep.outside.append((split, fname, tuple(box), (W, H)))


def _number(text) -> Optional[float]:
    """A finite float from an annotation's text, or None (missing, not a number, NaN or infinite)."""
    if text is None:
        return None
    try:
        v = float(str(text).strip())
    except ValueError:
        return None
    return v if np.isfinite(v) else None


def _voc_box(obj) -> tuple[Optional[tuple], Optional[str]]:
    bb = obj.find("bndbox")
    if bb is None:
        return None, "an <object> without <bndbox>"
    raw = [bb.findtext(k) for k in ("xmin", "ymin", "xmax", "ymax")]
    vals = [_number(v) for v in raw]
    bad = [f"{k}={v!r}" for k, v, x in zip(("xmin", "ymin", "xmax", "ymax"), raw, vals) if x is None]
    if bad:
        return None, f"<bndbox> with missing, NaN or non-numeric coordinates ({', '.join(bad)})"
    return tuple(vals), None


def voc_splits(root: Path) -> list[tuple[str, Path, Path]]:
    """(split name, year folder, list file) for every ImageSets/Main/{trainval,test}.txt under ``root``."""
    root = Path(root)
    devkit = root / "VOCdevkit" if (root / "VOCdevkit").is_dir() else root
    found = []
    for year in sorted(p for p in devkit.glob("VOC*") if p.is_dir()):
        for split in ("trainval", "test"):
            lst = year / "ImageSets" / "Main" / f"{split}.txt"
            if lst.exists():
                found.append((f"{year.name}/{split}", year, lst))
    if not found:
        raise FileNotFoundError(f"no VOC*/ImageSets/Main/{{trainval,test}}.txt under {devkit}")
    return found


def check_voc(root, read_images: bool = True, progress: bool = False) -> DatasetReport:
    rep = DatasetReport(name=str(root))
    for split, year, lst in voc_splits(Path(root)):
        ids = [line.split()[0] for line in lst.read_text().splitlines() if line.strip()]
        rep.images[split] = len(ids)
        it = ids
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(ids, desc=split, unit="img")
        for i in it:
            xml = year / "Annotations" / f"{i}.xml"
            img = year / "JPEGImages" / f"{i}.jpg"
            size = None
            if read_images:
                size, err = _image_size(img)
                if err:
                    rep.unreadable.append((split, str(img), err))
            try:
                tree = ET.parse(xml).getroot()
            except (ET.ParseError, FileNotFoundError) as e:
                rep.unreadable.append((split, str(xml), f"{type(e).__name__}: {e}"))
                continue
            s = tree.find("size")
            wh = None if s is None else (_number(s.findtext("width")), _number(s.findtext("height")))
            if wh is None:
                rep.malformed.append((split, str(xml), "no <size>"))
            elif None in wh:
                rep.malformed.append((split, str(xml), "<size> with missing or non-numeric width/height"))
            elif size is None:
                size = (int(wh[0]), int(wh[1]))
            for obj in tree.findall("object"):
                name = (obj.findtext("name") or "").strip()
                if not name:
                    rep.malformed.append((split, str(xml), "an <object> without <name>"))
                    continue
                box, problem = _voc_box(obj)
                if problem:
                    rep.malformed.append((split, str(xml), f"{name}: {problem}"))
                    continue
                _add_box(rep, split, str(xml), name, box, size,
                         (obj.findtext("difficult") or "0").strip() == "1", one_based=True)
    return rep


def check_coco(ann_file, img_dir=None, read_images: bool = True, split: Optional[str] = None) -> DatasetReport:
    ann_file = Path(ann_file)
    data = json.loads(ann_file.read_text())
    split = split or ann_file.stem
    rep = DatasetReport(name=str(ann_file))
    cats = {c["id"]: c["name"] for c in data.get("categories", [])}
    imgs = {im["id"]: im for im in data.get("images", [])}
    rep.images[split] = len(imgs)
    sizes = {}
    for iid, im in imgs.items():
        sizes[iid] = (im.get("width"), im.get("height"))
        if read_images and img_dir is not None:
            got, err = _image_size(Path(img_dir) / im["file_name"])
            if err:
                rep.unreadable.append((split, im["file_name"], err))
            elif got is not None:
                sizes[iid] = got
    for a in data.get("annotations", []):
        im = imgs.get(a.get("image_id"))
        fname = im["file_name"] if im else f"<missing image {a.get('image_id')}>"
        bbox = a.get("bbox")
        vals = [_number(v) for v in bbox] if isinstance(bbox, (list, tuple)) and len(bbox) == 4 else None
        if vals is None or None in vals:
            rep.malformed.append((split, fname, f"annotation {a.get('id')}: bbox {bbox!r} is not 4 finite numbers"))
            continue
        x, y, w, h = vals
        _add_box(rep, split, fname, cats.get(a["category_id"], str(a["category_id"])), (x, y, x + w, y + h),
                 sizes.get(a["image_id"]), bool(a.get("iscrowd", 0)), one_based=False)
    return rep
