"""alwa.data.check: dataset checks of VOC and COCO layouts, malformed annotations as findings."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from alwa.data import check, synthetic
from alwa.data.synthetic import MiniVOCOptions
from alwa.report.plots import plot_report

ROOT = Path(__file__).resolve().parents[2]
SMALL = MiniVOCOptions(n_trainval=24, n_test=8, seed=5)


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
