# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Using `alwa` in your own PyTorch loop
#
# `alwa.ALWA` needs nothing but the two losses of each iteration: a 0-d tensor each, or a
# list with one 0-d tensor per feature level. It returns them weighted (gradients are the
# weight times the raw gradients) in the same structure. The example trains torchvision's
# RetinaNet, whose training forward returns `{"classification": ..., "bbox_regression": ...}`;
# it runs as it is: `make test` executes this page's notebook with `pytest --nbval` and compares
# its outputs with the ones shown here.

# %%
import torch
from torchvision.models.detection import retinanet_resnet50_fpn

from alwa import ALWA

torch.manual_seed(0)
model = retinanet_resnet50_fpn(
    weights=None,
    weights_backbone=None,
    num_classes=3,
    min_size=128,
    max_size=128,
)
opt = torch.optim.SGD(
    model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4
)
weighter = ALWA(
    mode="alwa2", interval=2
)  # the paper uses C = 100

images = [torch.rand(3, 128, 128) for _ in range(2)]
targets = [
    {
        "boxes": torch.tensor([[10.0, 20.0, 70.0, 90.0]]),
        "labels": torch.tensor([1]),
    }
    for _ in range(2)
]
model.train()
for step in range(4):
    losses = model(images, targets)
    cls, reg = weighter(
        losses["classification"], losses["bbox_regression"]
    )
    opt.zero_grad()
    (cls + reg).backward()
    opt.step()
    print(
        step,
        f"cls weight in force next: {weighter.cls_weight:.3f}",
    )

# %%
state = weighter.state_dict()  # put it in your checkpoint ...
restored = ALWA(mode="alwa2", interval=2)
# ... and go on where you were (same options, or an error)
restored.load_state_dict(state)
assert restored.weights == weighter.weights
assert (
    ALWA.from_state_dict(state).weights == weighter.weights
)  # or take the options from the state
print(restored)

# %% [markdown]
# Notes:
#
# - Call it once per optimisation step, on every rank under `torch.distributed`; windows are
#   averaged over ranks so that all ranks keep identical weights.
# - No host-device synchronisation happens except one per window end, so it does not slow a
#   GPU loop (see [performance](performance.md)).
# - `weighter.history` holds one record per window (means, standard deviations, the compared
#   statistics, the weight before and after): the data of the paper's figures 3 and 6.
