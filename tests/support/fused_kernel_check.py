"""Compares the fused Triton kernels with the composed ops (forward and gradients).

Run by tests/test_fused_kernels.py on torch: on CUDA directly, or on a CPU
under Triton's interpreter (TRITON_INTERPRET=1, set before Triton is imported).
Float32 sequences, and bfloat16 and float16 ones (the input projection's dtype
under mixed precision) with the readout copies of V and D; in each case only
some outputs are used too, so that a kernel reading an absent gradient shows.
Prints one line per compared quantity and exits non-zero on a mismatch.
"""

import sys

import numpy as np
import torch

from keras_hsru.ops import _torch
from keras_hsru.ops._common import Surrogate
from tests.support import reference

FAST_SIGMOID = Surrogate("fast_sigmoid", 3.0)

device = "cuda" if torch.cuda.is_available() else "cpu"
interpreter = device == "cpu"
rng = np.random.default_rng(0)
failures = 0
NAMES = ["V", "D", "V_readout", "D_readout"]
GRADIENTS = ["d_decay", "d_current", "d_threshold", "d_potential0", "d_memory0"]
# The largest relative error of a value rounded to each dtype: Triton's
# interpreter truncates to bfloat16 where a GPU rounds to nearest, one unit in
# the last place.
ROUNDING = {torch.float32: 1e-4, torch.bfloat16: 2**-7, torch.float16: 2**-10}

cases = [(torch.float32, shape, (0, 1)) for shape in [(2, 1, 3), (2, 70, 33), (3, 200, 5)]]
for dtype in (torch.bfloat16, torch.float16):
    cases += [(dtype, (2, 70, 33), used) for used in [(0, 1, 2, 3), (2, 3), (0,)]]
for dtype, (batch, length, units), used in cases:

    def tensor(array, dtype=torch.float32):
        return torch.tensor(array, dtype=torch.float32, device=device).to(dtype)

    decay = tensor(rng.uniform(0.1, 0.95, units))
    current = tensor(rng.normal(size=(batch, length, units)), dtype)
    potential0 = tensor(rng.normal(size=(batch, units)))
    memory0 = tensor(rng.uniform(size=(batch, units)))
    # V does not depend on theta: put theta where no V is near it.
    v = _torch.linear_scan(decay, current.float(), potential0).detach().cpu().numpy()
    theta_np, _ = reference.threshold_in_gaps(v)
    threshold = tensor(theta_np)
    readout = None if dtype == torch.float32 else str(dtype).removeprefix("torch.")
    upstream = [
        tensor(rng.normal(size=(batch, length, units)), torch.float32 if i < 2 else dtype)
        for i in range(4)
    ]
    results = []
    for fused in (True, False):
        leaves = [
            t.clone().requires_grad_(True) for t in (decay, current, threshold, potential0, memory0)
        ]
        if fused:
            out = _torch.fused_hybrid_scan(
                leaves[0], leaves[1], leaves[2], FAST_SIGMOID, leaves[3], leaves[4],
                readout_dtype=readout,
            )  # fmt: skip
            assert out is not None, "the fused kernel did not apply"
        else:
            pot = _torch.linear_scan(leaves[0], leaves[1].float(), leaves[3])
            mem = _torch.xor_scan(_torch.spike(pot - leaves[2], FAST_SIGMOID), leaves[4])
            out = (pot, mem) if readout is None else (pot, mem, pot.to(dtype), mem.to(dtype))
        loss = sum((out[i].float() * upstream[i].float()).sum() for i in used)
        loss.backward()
        results.append(
            [o.detach().float().cpu().numpy() for o in out]
            + [
                np.zeros(t.shape) if t.grad is None else t.grad.float().cpu().numpy()
                for t in leaves
            ]
        )
    names = NAMES[: len(results[0]) - 5] + GRADIENTS
    for name, a, b in zip(names, *results):
        err = float(np.abs(a - b).max() / max(1.0, np.abs(b).max()))
        rounded = name in ("V_readout", "D_readout", "d_current")  # values in `dtype`
        ok = err < (ROUNDING[dtype] if rounded else 1e-4)
        failures += not ok
        print(
            f"{device} {str(dtype).removeprefix('torch.'):8s} B={batch} L={length} H={units} "
            f"used {used} {name:13s} rel err {err:.2e} {'ok' if ok else 'MISMATCH'}"
        )

# The layer under mixed precision: the kernels' half-precision path against the composed scans.
import keras  # noqa: E402

import keras_hsru  # noqa: E402

x = rng.normal(size=(3, 50, 4)).astype(np.float32)
results = []
for implementation in ("fused", "scan"):
    keras.utils.set_random_seed(1)
    layer = keras_hsru.HSRU(6, return_sequences=True, dtype="mixed_bfloat16",
                            implementation=implementation)  # fmt: skip
    inputs = torch.tensor(x, device=device, requires_grad=True)
    outputs = layer(inputs, training=True)
    outputs.float().square().sum().backward()
    results.append([outputs.detach().float().cpu().numpy(), inputs.grad.cpu().numpy()]
                   + [w.value.grad.cpu().numpy() for w in layer.trainable_weights])  # fmt: skip
for name, a, b in zip(["y", "d_x"] + [w.name for w in layer.trainable_weights], *results):
    err = float(np.abs(a - b).max() / max(1.0, np.abs(b).max()))
    ok = err < 2**-6  # bfloat16 outputs and matmuls
    failures += not ok
    print(
        f"{device} layer mixed_bfloat16 {name:13s} rel err {err:.2e} {'ok' if ok else 'MISMATCH'}"
    )

# Time chunks side by side: the kernels over batch * chunks rows, against the whole sequence.
from keras_hsru import ops as hsru_ops  # noqa: E402

batch, length, units = 2, 150, 5
current = rng.normal(size=(batch, length, units)).astype(np.float32)
decay = rng.uniform(0.2, 0.9, units).astype(np.float32)
potential0 = rng.normal(size=(batch, units)).astype(np.float32)
memory0 = rng.uniform(size=(batch, units)).astype(np.float32)
tau = np.log(np.expm1(-np.log(decay.astype(np.float64))))
potentials = reference.potentials(current, np.eye(units), np.zeros(units), tau, potential0)
threshold = reference.threshold_in_gaps(potentials)[0].astype(np.float32)
upstream = torch.tensor(rng.normal(size=(2, batch, length, units)), device=device)
results = []
for chunk, fused in ((64, True), (None, False)):
    leaves = [
        torch.tensor(a, device=device, requires_grad=True)
        for a in (decay, current, threshold, potential0, memory0)
    ]
    v, d = hsru_ops.hybrid_scan(leaves[0], leaves[1], leaves[2], 3.0, *leaves[3:],
                                fused=fused, time_chunk_length=chunk)  # fmt: skip
    ((v * upstream[0]).sum() + (d * upstream[1]).sum()).backward()
    results.append([v.detach().cpu().numpy(), d.detach().cpu().numpy()]
                   + [t.grad.cpu().numpy() for t in leaves])  # fmt: skip
for name, a, b in zip(["V", "D", *GRADIENTS], *results):
    err = float(np.abs(a - b).max() / max(1.0, np.abs(b).max()))
    ok = err < 1e-4
    failures += not ok
    print(f"{device} time chunks of 64 {name:13s} rel err {err:.2e} {'ok' if ok else 'MISMATCH'}")
sys.exit(1 if failures else 0)
