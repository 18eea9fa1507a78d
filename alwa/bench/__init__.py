"""Benchmarks: one weighter call (:mod:`~alwa.bench.micro`, ``torch.utils.benchmark``), the interleaved
with/without-ALWA loop (:mod:`~alwa.bench.interleave`) behind the mmdet train step (:mod:`~alwa.bench.train`) and the
GPU checks (:mod:`~alwa.bench.gpu`, plain PyTorch; :mod:`~alwa.bench.gpu_mmdet`, inside mmdet)."""
