"""ALWA under torch.distributed: 2 processes, gloo backend, CPU.

Each rank sees different losses; every rank must end every window with the
same weights, equal to one process fed the rank-averaged losses."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from alwa import ALWA

N, LEVELS, C, WORLD = 90, 5, 15, 2


def streams(world=WORLD):
    g = torch.Generator().manual_seed(11)
    cls = torch.rand(world, N, LEVELS, generator=g, dtype=torch.float64) * torch.linspace(2, 0.2, N, dtype=torch.float64)[None, :, None]
    reg = torch.rand(world, N, LEVELS, generator=g, dtype=torch.float64) * 0.3 + 0.1
    return cls, reg


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, port, mode, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        cls, reg = streams()
        w = ALWA(mode, interval=C)
        traj = []
        for i in range(N):
            w(list(cls[rank, i].unbind()), list(reg[rank, i].unbind()))
            traj.append(w.cls_weight)
        out[rank] = traj
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("mode", ["alwa1", "alwa2"])
def test_ranks_agree_and_equal_single_process_on_averaged_losses(mode):
    manager = mp.Manager()
    out = manager.dict()
    mp.spawn(_worker, args=(_free_port(), mode, out), nprocs=WORLD, join=True)
    r0, r1 = out[0], out[1]
    assert r0 == r1  # identical, bit for bit

    cls, reg = streams()
    single = ALWA(mode, interval=C)
    ref = []
    for i in range(N):
        single(list(cls[:, i].mean(0).unbind()), list(reg[:, i].mean(0).unbind()))
        ref.append(single.cls_weight)
    torch.testing.assert_close(torch.tensor(r0), torch.tensor(ref), rtol=0, atol=1e-12)
    # and the ranks differ from what each would do alone (the test is not vacuous)
    alone = ALWA(mode, interval=C)
    own = []
    for i in range(N):
        alone(list(cls[0, i].unbind()), list(reg[0, i].unbind()))
        own.append(alone.cls_weight)
    assert max(abs(a - b) for a, b in zip(own, r0)) > 1e-6
