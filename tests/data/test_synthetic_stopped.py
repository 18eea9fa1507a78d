"""alwa.data.synthetic: a generation stopped half-way (a full disk) leaves files the next run recognises as its own."""
import errno

import pytest

from alwa.data import synthetic
from alwa.data.synthetic import DatasetFolderError, MiniVOCOptions, ensure, generate

OPTS = MiniVOCOptions(n_trainval=6, n_test=3)


def test_a_rerun_after_a_full_disk_finishes_the_set(tmp_path, monkeypatch):
    real, written = synthetic._write_one, []

    def fills_up(args):
        if len(written) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(1)
        return real(args)

    monkeypatch.setattr(synthetic, "_write_one", fills_up)
    with pytest.raises(OSError, match="No space left"):
        generate(tmp_path / "voc", OPTS, workers=1, progress=False)
    assert (tmp_path / "voc" / synthetic.UNFINISHED).exists() and len(list((tmp_path / "voc").rglob("*.jpg"))) == 4
    monkeypatch.setattr(synthetic, "_write_one", real)
    ensure(tmp_path / "voc", OPTS, workers=1, progress=False)  # before: "holds 8 file(s) that make_mini_voc did not write"
    assert not (tmp_path / "voc" / synthetic.UNFINISHED).exists() and len(list((tmp_path / "voc").rglob("*.jpg"))) == 9
    assert synthetic._changed_files(tmp_path / "voc", synthetic._read_manifest(tmp_path / "voc")["sha256"]) == []


def test_a_foreign_file_is_refused_even_beside_a_stopped_run(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic, "_write_one", lambda args: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(OSError):
        generate(tmp_path / "voc", OPTS, workers=1, progress=False)
    (tmp_path / "voc" / "VOCdevkit" / "notes.txt").write_text("mine")
    monkeypatch.undo()
    with pytest.raises(DatasetFolderError, match="1 file\\(s\\) that make_mini_voc did not write \\(e.g. VOCdevkit/notes.txt\\)"):
        ensure(tmp_path / "voc", OPTS, workers=1, progress=False)
