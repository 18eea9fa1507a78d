"""alwa.bench.micro: one ALWA call against a call in the authors' style, like with like."""
import pytest
import torch

from alwa import ALWA


def test_bench_reports_both_timings_and_their_ratio():
    from alwa.bench import micro as bench

    r = bench.run(calls=60, repeats=2, interval=20)
    assert r["alwa_us"] > 0 and r["authors_us"] > 0
    assert r["ratio"] == pytest.approx(r["alwa_us"] / r["authors_us"])
    table = bench.format_table(r)
    assert "ratio alwa / authors" in table and f"{r['ratio']:.3f}" in table and "cls_weight=0.5" in table


def test_bench_compares_like_with_like():
    """Both sides start from the same weights and return the same weighted losses."""
    from alwa.bench import micro as bench

    cls = [torch.tensor(float(i + 1)) for i in range(5)]
    reg = [torch.tensor(0.5 * (i + 1)) for i in range(5)]
    a = ALWA("alwa2", interval=100, cls_weight=0.5)(cls, reg)
    b = bench.AuthorsStyle(100, cls_weight=0.5)(cls, reg)
    for x, y in zip(a[0] + a[1], b[0] + b[1]):
        assert x.item() == y.item()
