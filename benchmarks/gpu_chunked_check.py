"""On CUDA: the chunked torch scan equals the doubling scan, forward and reverse."""

import torch

from keras_hsru.ops import _torch

decay = torch.rand(256, device="cuda") * 0.999
inputs = torch.randn(8, 5000, 256, device="cuda")
for reverse in (False, True):
    chunked = _torch._scan_sequence(decay, inputs, reverse)
    doubling = _torch._scan(decay, inputs, reverse)
    print(
        f"chunked vs doubling, reverse={reverse}: max |diff| =",
        float((chunked - doubling).abs().max()),
    )
