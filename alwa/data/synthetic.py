"""A synthetic detection dataset written in the real PASCAL VOC layout.

``generate(out_dir, ...)`` writes::

    out_dir/VOCdevkit/VOC2012/{Annotations/*.xml, JPEGImages/*.jpg, ImageSets/Main/trainval.txt}
    out_dir/VOCdevkit/VOC2007/{Annotations/*.xml, JPEGImages/*.jpg, ImageSets/Main/test.txt}
    out_dir/VOCdevkit/mini_voc.json   (classes, options, per-file sha256)

mirroring the paper (train on VOC2012 trainval, test on VOC2007 test), so the
same mmdet VOC dataset config serves this and real VOC with only ``data_root``
(and the class list) changed.

What is in an image (all drawn from a per-image ``numpy`` generator seeded by
``(seed, split, index)``, so the output is byte-identical on rerun and does not
depend on the number of worker processes):

* size: width and height uniform in ``image_size`` (default 160-320 px);
* background: a two-colour gradient, low-frequency blotches, noise, and
  clutter (lines, specks; ``clutter`` scales it, default 0.5);
* distractors (not annotated, 0-2 by default): irregular polygons, thick
  strokes, hollow frames, half discs;
* objects: 2-``max_objects`` of the :data:`CLASSES`, defined by *shape*;
  colour and texture (by default solid, stripes or gradient; checker and dots
  available) are drawn independently of the class from a shared palette, so
  colour alone cannot identify a class; geometric-mean size log-uniform in
  ``scale_range`` (default 20-160 px, 8x), aspect ratio log-uniform in 1:3..3:1;
* occlusion: items are painted in random order, later ones cover earlier
  ones; truncation: objects may extend past the border.

Annotations are truthful, computed from the painted pixels: the box is the
tight box of the object's pixels inside the image; ``truncated=1`` when less
than 90 % of the object's area lies inside the image; an object with less than
10 % of its area visible is not annotated (it cannot be seen);
``difficult=1`` when less than 35 % is visible or the box is under 8 px on a
side. ``occluded``, ``visible_fraction`` are written too.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from alwa.core.files import file_lock
from alwa.core.settings import CLASSES, DEFAULT_TEXTURES, TEXTURES, MiniVOCOptions  # noqa: F401 - defined there, used here and re-exported

PALETTE = np.array(
    [
        (220, 50, 47), (38, 139, 210), (133, 153, 0), (181, 137, 0), (211, 54, 130), (42, 161, 152),
        (108, 113, 196), (203, 75, 22), (240, 240, 240), (30, 30, 30), (120, 120, 120), (250, 200, 60),
    ],
    dtype=np.uint8,
)
DATASET_VERSION = 1
SPLITS = {"trainval": ("VOC2012", 0), "test": ("VOC2007", 1)}




# ------------------------------------------------------------------ shapes
def shape_mask(kind: str, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean (h, w) mask of a shape filling a w x h box (kind: a class or a distractor)."""
    im = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(im)
    W, H = w - 1, h - 1
    if kind == "disc":
        d.ellipse([0, 0, W, H], fill=255)
    elif kind == "box":
        d.rectangle([0, 0, W, H], fill=255)
    elif kind == "triangle":
        if rng.random() < 0.5:
            d.polygon([(0, H), (W / 2, 0), (W, H)], fill=255)
        else:
            d.polygon([(0, 0), (W, 0), (W / 2, H)], fill=255)
    elif kind == "cross":
        t = rng.uniform(0.28, 0.4)
        d.rectangle([W * (0.5 - t / 2), 0, W * (0.5 + t / 2), H], fill=255)
        d.rectangle([0, H * (0.5 - t / 2), W, H * (0.5 + t / 2)], fill=255)
    elif kind == "star":
        pts = []
        inner = rng.uniform(0.38, 0.5)
        for k in range(10):
            a = -math.pi / 2 + k * math.pi / 5
            r = 1.0 if k % 2 == 0 else inner
            pts.append((W / 2 + r * W / 2 * math.cos(a), H / 2 + r * H / 2 * math.sin(a)))
        d.polygon(pts, fill=255)
    elif kind == "ring":
        d.ellipse([0, 0, W, H], fill=255)
        t = rng.uniform(0.22, 0.32)
        d.ellipse([W * t, H * t, W * (1 - t), H * (1 - t)], fill=0)
    elif kind == "hexagon":
        pts = [(W / 2 + W / 2 * math.cos(a), H / 2 + H / 2 * math.sin(a)) for a in np.arange(6) * math.pi / 3]
        d.polygon(pts, fill=255)
    elif kind == "blob":  # distractor: irregular polygon
        n = int(rng.integers(5, 10))
        ang = np.sort(rng.uniform(0, 2 * math.pi, n))
        rad = rng.uniform(0.35, 1.0, n)
        d.polygon([(W / 2 + r * W / 2 * math.cos(a), H / 2 + r * H / 2 * math.sin(a)) for a, r in zip(ang, rad)], fill=255)
    elif kind == "frame":  # distractor: hollow rectangle
        t = max(1, int(min(w, h) * rng.uniform(0.06, 0.12)))
        d.rectangle([0, 0, W, H], fill=255)
        d.rectangle([t, t, W - t, H - t], fill=0)
    elif kind == "stroke":  # distractor: a thick diagonal stroke
        d.line([(0, H), (W, 0)] if rng.random() < 0.5 else [(0, 0), (W, H)], fill=255, width=max(2, int(min(w, h) * 0.2)))
    elif kind == "halfdisc":  # distractor
        d.pieslice([0, 0, W, H * 2 if rng.random() < 0.5 else H], 180, 360, fill=255)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    return np.asarray(im) > 127


DISTRACTORS = ("blob", "frame", "stroke", "halfdisc")


def texture(w: int, h: int, rng: np.random.Generator, textures=TEXTURES, home: Optional[int] = None,
            colour_bias: float = 0.0) -> tuple[np.ndarray, tuple[int, int]]:
    """(h, w, 3) float32 fill (two palette colours in a random pattern) and the two palette indices.

    With ``colour_bias`` > 0, the first colour is the palette colour ``home`` with that
    probability (else both are drawn uniformly, as with ``colour_bias`` = 0)."""
    if colour_bias > 0 and home is not None and rng.random() < colour_bias:
        i = int(home)
        j = int(rng.choice([k for k in range(len(PALETTE)) if k != i]))
    else:
        i, j = (int(v) for v in rng.choice(len(PALETTE), 2, replace=False))
    c1, c2 = PALETTE[i].astype(np.float32), PALETTE[j].astype(np.float32)
    kind = textures[int(rng.integers(len(textures)))]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "solid":
        t = np.zeros((h, w), np.float32)
    elif kind == "stripes":
        a = rng.uniform(0, math.pi)
        period = rng.uniform(4, 10)
        t = ((np.cos(a) * xx + np.sin(a) * yy) // (period / 2) % 2).astype(np.float32)
    elif kind == "checker":
        s = rng.uniform(3, 8)
        t = ((xx // s + yy // s) % 2).astype(np.float32)
    elif kind == "dots":
        s = rng.uniform(4, 8)
        t = (((xx % s - s / 2) ** 2 + (yy % s - s / 2) ** 2) < (s / 3.2) ** 2).astype(np.float32)
    else:  # gradient
        a = rng.uniform(0, 2 * math.pi)
        g = np.cos(a) * xx / max(w, 1) + np.sin(a) * yy / max(h, 1)
        t = (g - g.min()) / max(float(np.ptp(g)), 1e-6)
    return c1 * (1 - t[..., None]) + c2 * t[..., None], (i, j)


def background(w: int, h: int, rng: np.random.Generator, clutter: float) -> np.ndarray:
    c1 = rng.uniform(40, 215, 3).astype(np.float32)
    c2 = rng.uniform(40, 215, 3).astype(np.float32)
    a = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    g = (np.cos(a) * xx / w + np.sin(a) * yy / h)
    g = (g - g.min()) / max(float(np.ptp(g)), 1e-6)
    img = c1 * (1 - g[..., None]) + c2 * g[..., None]
    if clutter > 0:
        low = rng.normal(0, 1, (max(2, h // 24), max(2, w // 24), 3)).astype(np.float32)
        low = np.asarray(Image.fromarray(((low - low.min()) / (np.ptp(low) + 1e-6) * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC), np.float32)
        img = img + clutter * 0.35 * (low - 128)
        pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
        d = ImageDraw.Draw(pil)
        for _ in range(int(rng.integers(3, 10) * clutter)):
            x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
            L, ang = rng.uniform(10, 60), rng.uniform(0, 2 * math.pi)
            col = tuple(int(v) for v in rng.integers(0, 256, 3))
            d.line([(x0, y0), (x0 + L * math.cos(ang), y0 + L * math.sin(ang))], fill=col, width=int(rng.integers(1, 3)))
        for _ in range(int(rng.integers(10, 40) * clutter)):
            x0, y0, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.5, 2.5)
            col = tuple(int(v) for v in rng.integers(0, 256, 3))
            d.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=col)
        img = np.asarray(pil, np.float32)
    return img


# ------------------------------------------------------------------ one image
def render_image(opts: MiniVOCOptions, split_id: int, index: int) -> tuple[np.ndarray, list[dict]]:
    """Return (uint8 HxWx3 image, annotations) for one image; deterministic."""
    rng = np.random.default_rng([opts.seed, DATASET_VERSION, split_id, index])
    w = int(rng.integers(opts.image_size[0], opts.image_size[1] + 1))
    h = int(rng.integers(opts.image_size[0], opts.image_size[1] + 1))
    img = background(w, h, rng, opts.clutter)
    owner = np.full((h, w), -1, np.int32)
    items = []
    n_obj = int(rng.integers(opts.min_objects, opts.max_objects + 1))
    n_dis = int(rng.integers(opts.distractors[0], opts.distractors[1] + 1))
    for k in range(n_obj + n_dis):
        is_obj = k < n_obj
        kind = opts.classes[int(rng.integers(len(opts.classes)))] if is_obj else DISTRACTORS[int(rng.integers(len(DISTRACTORS)))]
        lo, hi = opts.scale_range
        s = math.exp(rng.uniform(math.log(lo), math.log(hi))) if is_obj else rng.uniform(10, 60)
        ar = math.exp(rng.uniform(math.log(opts.aspect_range[0]), math.log(opts.aspect_range[1])))
        bw, bh = max(4, int(round(s * math.sqrt(ar)))), max(4, int(round(s / math.sqrt(ar))))
        # centre anywhere in the image, so that some objects cross the border
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        x0, y0 = int(round(cx - bw / 2)), int(round(cy - bh / 2))
        mask = shape_mask(kind, bw, bh, rng)
        home = CLASSES.index(kind) if is_obj else None  # a class's home colour: its index in the palette
        fill, colours = texture(bw, bh, rng, opts.textures, home, opts.colour_bias)
        items.append(dict(kind=kind, is_obj=is_obj, x0=x0, y0=y0, bw=bw, bh=bh, mask=mask, fill=fill, colours=colours))
    order = rng.permutation(len(items))
    for idx in order:
        it = items[idx]
        x0, y0, bw, bh = it["x0"], it["y0"], it["bw"], it["bh"]
        ix0, iy0, ix1, iy1 = max(0, x0), max(0, y0), min(w, x0 + bw), min(h, y0 + bh)
        if ix0 >= ix1 or iy0 >= iy1:
            continue
        m = it["mask"][iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0]
        img[iy0:iy1, ix0:ix1][m] = it["fill"][iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0][m]
        owner[iy0:iy1, ix0:ix1][m] = idx
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        pil = pil.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.3, 0.9))))
    out = np.asarray(pil, np.float32) + rng.normal(0, 4.0, (h, w, 3))
    out = np.clip(out, 0, 255).astype(np.uint8)

    anns = []
    for idx, it in enumerate(items):
        if not it["is_obj"]:
            continue
        total = int(it["mask"].sum())
        x0, y0 = it["x0"], it["y0"]
        ix0, iy0, ix1, iy1 = max(0, x0), max(0, y0), min(w, x0 + it["bw"]), min(h, y0 + it["bh"])
        inside = int(it["mask"][max(0, iy0 - y0):max(0, iy1 - y0), max(0, ix0 - x0):max(0, ix1 - x0)].sum()) if ix0 < ix1 and iy0 < iy1 else 0
        vis = owner == idx
        visible = int(vis.sum())
        if total == 0 or visible < 0.10 * total:
            continue
        in_mask = np.zeros((h, w), bool)
        if inside:
            in_mask[iy0:iy1, ix0:ix1] = it["mask"][iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0]
        ys, xs = np.nonzero(in_mask)
        xmin, xmax, ymin, ymax = int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())
        vf = visible / total
        truncated = inside < 0.90 * total
        small = min(xmax - xmin + 1, ymax - ymin + 1) < 8
        anns.append(dict(
            name=it["kind"], xmin=xmin + 1, ymin=ymin + 1, xmax=xmax + 1, ymax=ymax + 1,  # VOC: 1-based, inclusive
            truncated=int(truncated), difficult=int(vf < 0.35 or small),
            occluded=int(visible < inside), visible_fraction=round(vf, 4),
            colours=it["colours"],  # palette indices (not written to the XML)
        ))
    return out, anns


def voc_xml(filename: str, folder: str, w: int, h: int, anns: list[dict]) -> str:
    objs = "".join(
        f"""  <object>
    <name>{a['name']}</name>
    <pose>Unspecified</pose>
    <truncated>{a['truncated']}</truncated>
    <occluded>{a['occluded']}</occluded>
    <difficult>{a['difficult']}</difficult>
    <visible_fraction>{a['visible_fraction']}</visible_fraction>
    <bndbox>
      <xmin>{a['xmin']}</xmin>
      <ymin>{a['ymin']}</ymin>
      <xmax>{a['xmax']}</xmax>
      <ymax>{a['ymax']}</ymax>
    </bndbox>
  </object>
"""
        for a in anns
    )
    return f"""<annotation>
  <folder>{folder}</folder>
  <filename>{filename}</filename>
  <source>
    <database>alwa synthetic mini VOC v{DATASET_VERSION}</database>
  </source>
  <size>
    <width>{w}</width>
    <height>{h}</height>
    <depth>3</depth>
  </size>
  <segmented>0</segmented>
{objs}</annotation>
"""


def _write_one(args) -> tuple[str, str, list[tuple[str, str]]]:
    opts, split, index, root = args
    folder, split_id = SPLITS[split]
    img, anns = render_image(opts, split_id, index)
    stem = f"{split_id}{index:06d}"
    base = Path(root) / "VOCdevkit" / folder
    jpg = base / "JPEGImages" / f"{stem}.jpg"
    xml = base / "Annotations" / f"{stem}.xml"
    Image.fromarray(img).save(jpg, format="JPEG", quality=opts.jpeg_quality)
    xml.write_text(voc_xml(f"{stem}.jpg", folder, img.shape[1], img.shape[0], anns))
    hashes = [(str(p.relative_to(root)), hashlib.sha256(p.read_bytes()).hexdigest()) for p in (jpg, xml)]
    return split, stem, hashes


class DatasetFolderError(RuntimeError):
    """The target folder holds something this generator did not write, or a set made with other options."""


MANIFEST = Path("VOCdevkit") / "mini_voc.json"
UNFINISHED = Path("VOCdevkit") / ".mini_voc_unfinished.json"  # written first, removed last: a stopped run's marker


def _read_manifest(root: Path) -> Optional[dict]:
    try:
        m = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) and m.get("name") == "alwa-mini-voc" else None


def _unfinished(root: Path) -> bool:
    try:
        return json.loads((root / UNFINISHED).read_text()).get("name") == "alwa-mini-voc-unfinished"
    except (OSError, ValueError, AttributeError):
        return False


def _generator_path(rel: Path) -> bool:
    """A path this generator writes: its marker, manifest, and VOC{year}/{Annotations,JPEGImages,ImageSets/Main} files."""
    parts = rel.parts
    if rel in (MANIFEST, UNFINISHED):
        return True
    if len(parts) < 4 or parts[0] != "VOCdevkit" or parts[1] not in {f for f, _ in SPLITS.values()}:
        return False
    sub = "/".join(parts[2:-1])
    return (sub, rel.suffix) in {("Annotations", ".xml"), ("JPEGImages", ".jpg"), ("ImageSets/Main", ".txt")}


def _check_folder(root: Path, opts: MiniVOCOptions, force: bool) -> Optional[dict]:
    """Refuse a folder with files this generator did not write (e.g. a real VOC root, whose ImageSets lists it
    would replace), and, without ``force``, one holding a set made with other options. Returns the old manifest."""
    if not root.exists():
        return None
    files = [p for p in root.rglob("*") if p.is_file() or p.is_symlink()]
    if not files:
        return None
    old = _read_manifest(root)
    own = set(old.get("sha256", {})) | {str(MANIFEST)} if old else set()
    if _unfinished(root):  # a run of this generator that stopped (disk full, killed): its files are its own
        own |= {str(p.relative_to(root)) for p in files if _generator_path(p.relative_to(root))}
    foreign = sorted(str(p.relative_to(root)) for p in files if str(p.relative_to(root)) not in own)
    if foreign:
        raise DatasetFolderError(
            f"{root} holds {len(foreign)} file(s) that make_mini_voc did not write (e.g. {foreign[0]}); it writes only into "
            f"an empty folder or one holding its own output: choose another --out")
    if old and old.get("options") != json.loads(json.dumps(asdict(opts))) and not force:
        want = json.loads(json.dumps(asdict(opts)))
        diff = [f"{k}: {old['options'].get(k)!r} -> {v!r}" for k, v in want.items() if old["options"].get(k) != v]
        raise DatasetFolderError(f"{root} holds a mini VOC set made with other options ({'; '.join(diff[:4])}); "
                                 f"regenerate it with --force (force=True), or use another folder")
    return old


def generate(out_dir, options: Optional[MiniVOCOptions] = None, workers: Optional[int] = None, progress: bool = True,
             force: bool = False) -> dict:
    """Write the dataset under ``out_dir`` and return its manifest (also saved
    as ``VOCdevkit/mini_voc.json``). Rerunning with the same options rewrites
    byte-identical files. Refuses (:class:`DatasetFolderError`) a folder holding anything but this
    generator's output, and one holding a set of other options unless ``force``."""
    opts = options or MiniVOCOptions()
    root = Path(out_dir)
    stopped = _unfinished(root)
    old = _check_folder(root, opts, force)
    for rel in (old or {}).get("sha256", {}):  # our previous output goes first: no stale images of a larger set stay
        (root / rel).unlink(missing_ok=True)
    if stopped:  # and what a stopped run left
        for p in [p for p in root.rglob("*") if p.is_file() and _generator_path(p.relative_to(root))]:
            p.unlink(missing_ok=True)
    (root / "VOCdevkit").mkdir(parents=True, exist_ok=True)
    (root / UNFINISHED).write_text(json.dumps({"name": "alwa-mini-voc-unfinished", "options": asdict(opts)}) + "\n")
    for split, (folder, _) in SPLITS.items():
        for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
            (root / "VOCdevkit" / folder / sub).mkdir(parents=True, exist_ok=True)
    jobs = [(opts, "trainval", i, str(root)) for i in range(opts.n_trainval)]
    jobs += [(opts, "test", i, str(root)) for i in range(opts.n_test)]
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    stems = {"trainval": [], "test": []}
    files = {}
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    with ProcessPoolExecutor(max_workers=workers) if workers > 1 else _Serial() as ex:
        results = ex.map(_write_one, jobs, chunksize=16)
        if progress and tqdm is not None:
            results = tqdm(results, total=len(jobs), desc="mini VOC", unit="img")
        for split, stem, hashes in results:
            stems[split].append(stem)
            files.update(hashes)
    for split, (folder, _) in SPLITS.items():
        lst = root / "VOCdevkit" / folder / "ImageSets" / "Main" / f"{split}.txt"
        lst.write_text("".join(s + "\n" for s in sorted(stems[split])))
        files[str(lst.relative_to(root))] = hashlib.sha256(lst.read_bytes()).hexdigest()
    manifest = {
        "name": "alwa-mini-voc",
        "version": DATASET_VERSION,
        "classes": list(opts.classes),
        "options": asdict(opts),
        "splits": {s: {"folder": SPLITS[s][0], "images": len(stems[s])} for s in SPLITS},
        "sha256": dict(sorted(files.items())),
    }
    (root / "VOCdevkit" / "mini_voc.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    (root / UNFINISHED).unlink()
    return manifest


class _Serial:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def map(self, fn, it, chunksize=1):
        return map(fn, it)


def _changed_files(root: Path, sha: dict) -> list[str]:
    """Files listed in a manifest that are missing or whose sha256 differs."""
    bad = []
    for rel, want in sha.items():
        f = root / rel
        if not f.is_file() or hashlib.sha256(f.read_bytes()).hexdigest() != want:
            bad.append(rel)
    return bad


def ensure(out_dir, options: Optional[MiniVOCOptions] = None, workers: Optional[int] = None, progress: bool = True,
           force: bool = False) -> Path:
    """Generate the dataset unless ``out_dir`` already holds one made with the same options (a set of other
    options is replaced only with ``force``; a folder holding other files is refused).

    Safe to call from several processes at once (a lock file next to ``out_dir``)."""
    opts = options or MiniVOCOptions()
    manifest = Path(out_dir) / "VOCdevkit" / "mini_voc.json"
    with file_lock(Path(str(Path(out_dir)) + ".lock")):
        _check_folder(Path(out_dir), opts, force)
        if manifest.exists():
            old = json.loads(manifest.read_text())
            want = json.loads(json.dumps(asdict(opts)))
            if old.get("version") == DATASET_VERSION and old.get("options") == want:
                bad = _changed_files(Path(out_dir), old.get("sha256", {}))
                if not bad and not _unfinished(Path(out_dir)):
                    return Path(out_dir)
                print(f"{len(bad)} file(s) of {out_dir} differ from its manifest (e.g. {bad[0]}): generating it again")
        generate(out_dir, opts, workers=workers, progress=progress, force=True)
    return Path(out_dir)
