"""alwa.bench.detectors: ``alwa bench detectors`` runs the stock-detector check and stores its record."""
import pytest

from alwa.cli import main
from alwa.core.checks import load_detector_checks


@pytest.mark.slow
def test_the_command_writes_a_record_the_book_reads(tmp_path, capsys):
    out = tmp_path / "detectors.json"
    main(["bench", "detectors", "--detectors", "retinanet", "--iterations", "1", "--json", str(out)])
    [row] = load_detector_checks(out)
    assert row.detector == "RetinaNet" and row.ok and row.iterations == 1
    assert "RetinaNet: ok; head bbox_head (RetinaHead) weighs ['loss_cls'] against ['loss_bbox']" in capsys.readouterr().out


def test_an_unknown_detector_is_one_line_naming_it():
    with pytest.raises(SystemExit) as e:
        main(["bench", "detectors", "--detectors", "RetinaNett"])
    assert str(e.value).startswith("alwa bench: error: unknown detector(s) ['RetinaNett']; known: ['RetinaNet'")
