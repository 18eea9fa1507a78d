"""alwa.mmdet.fingerprint: what a seed must fix is recorded; the weighting or lr leave it, a backbone or data set change it."""
import pytest
import torch

from alwa.core.pairing import pair_key
from alwa.mmdet.fingerprint import state_hash


def test_state_hash_reads_every_tensor_including_0d_ones():
    a = {"w": torch.ones(2, 3), "n": torch.tensor(3)}
    assert state_hash(a) == state_hash({k: v.clone() for k, v in a.items()})
    assert state_hash(a) != state_hash({"w": torch.ones(2, 3), "n": torch.tensor(4)})
    assert state_hash(a) != state_hash({"w": torch.ones(3, 2), "n": torch.tensor(3)})


@pytest.mark.slow
def test_runs_of_one_seed_share_fingerprints_unless_backbone_or_data_change(tmp_path):
    from alwa.mmdet.run import run_spec

    spec = dict(name="retinanet_r18w16_mini_l1_base", seed=2, work_root=str(tmp_path / "w"), data_dir=str(tmp_path / "d" / "voc"),
                dataset=dict(n_trainval=12, n_test=4), pretrain=dict(steps=4, batch_size=8),
                setting=dict(iters=3, batch_size=2, img_scale=[96, 96], warmup_iters=1, interval=2))
    base = run_spec(spec)["fingerprints"]
    assert base["init_state"] and base["data"] and base["pretrained"] and len(base["first_batches"]) == 2
    alwa = run_spec(dict(spec, name="retinanet_r18w16_mini_l1_alwa2_lr0.05"))
    fixed = run_spec(dict(spec, name="retinanet_r18w16_mini_l1_w0.50-0.50"))
    assert alwa["fingerprints"] == base and fixed["fingerprints"] == base
    assert pair_key(alwa) == pair_key(fixed)
    other_backbone = run_spec(dict(spec, pretrain=dict(steps=5, batch_size=8)))["fingerprints"]
    assert other_backbone["init_state"] != base["init_state"] and other_backbone["pretrained"] != base["pretrained"]
    other_data = run_spec(dict(spec, data_dir=str(tmp_path / "d2" / "voc"), dataset=dict(n_trainval=12, n_test=4, seed=1)))["fingerprints"]
    assert other_data["data"] != base["data"]  # same image ids (the sampler follows the seed), other images and boxes
