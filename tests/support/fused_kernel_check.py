"""Compares the fused Triton kernels with the composed ops (forward and gradients).

Run by tests/test_fused_kernels.py on torch: on CUDA directly, or on a CPU
under Triton's interpreter (TRITON_INTERPRET=1, set before Triton is imported).
Prints one line per compared quantity and exits non-zero on a mismatch.
"""

import sys

import numpy as np
import torch

from keras_hsru.ops import _torch
from tests.support import reference

device = "cuda" if torch.cuda.is_available() else "cpu"
rng = np.random.default_rng(0)
failures = 0
for batch, length, units in [(2, 1, 3), (2, 70, 33), (3, 200, 5)]:
    decay = torch.tensor(rng.uniform(0.1, 0.95, units), dtype=torch.float32, device=device)
    current = torch.tensor(
        rng.normal(size=(batch, length, units)), dtype=torch.float32, device=device
    )
    potential0 = torch.tensor(rng.normal(size=(batch, units)), dtype=torch.float32, device=device)
    memory0 = torch.tensor(rng.uniform(size=(batch, units)), dtype=torch.float32, device=device)
    # V does not depend on theta: put theta where no V is near it.
    v = _torch.linear_scan(decay, current, potential0).detach().cpu().numpy()
    theta_np, _ = reference.threshold_in_gaps(v)
    threshold = torch.tensor(theta_np, dtype=torch.float32, device=device)
    g_v = torch.tensor(rng.normal(size=(batch, length, units)), dtype=torch.float32, device=device)
    g_d = torch.tensor(rng.normal(size=(batch, length, units)), dtype=torch.float32, device=device)
    results = []
    for fused in (True, False):
        leaves = [
            t.clone().requires_grad_(True) for t in (decay, current, threshold, potential0, memory0)
        ]
        if fused:
            out = _torch.fused_hybrid_scan(
                leaves[0], leaves[1], leaves[2], 3.0, "fast_sigmoid", leaves[3], leaves[4]
            )
            assert out is not None, "the fused kernel did not apply"
        else:
            pot = _torch.linear_scan(leaves[0], leaves[1], leaves[3])
            out = (
                pot,
                _torch.xor_scan(_torch.spike(pot - leaves[2], 3.0, "fast_sigmoid"), leaves[4]),
            )
        ((out[0] * g_v).sum() + (out[1] * g_d).sum()).backward()
        results.append(
            [o.detach().cpu().numpy() for o in out] + [t.grad.cpu().numpy() for t in leaves]
        )
    names = ["V", "D", "d_decay", "d_current", "d_threshold", "d_potential0", "d_memory0"]
    for name, a, b in zip(names, *results):
        err = float(np.abs(a - b).max() / max(1.0, np.abs(b).max()))
        ok = err < 1e-4
        failures += not ok
        print(
            f"{device} B={batch} L={length} H={units} {name:13s} rel err {err:.2e} {'ok' if ok else 'MISMATCH'}"
        )
sys.exit(1 if failures else 0)
