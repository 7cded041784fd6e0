"""Fused Triton kernels for the HSRU state recurrence on CUDA (torch backend).

One kernel computes V (leaky integration), S (spikes) and D (XOR memory) for a
whole sequence in a single pass over memory; one kernel computes all their
gradients in a single reverse pass. Each program owns one batch row and
`BLOCK_UNITS` units and walks time in tiles of `TILE_STEPS` steps: inside a
tile the linear recurrences are an in-register associative scan, and the
state at the tile's edge is carried to the next tile.

The sequence `current` may be float32, bfloat16 or float16: it is read in
its dtype and widened, and V, D and every sum are float32. With a readout
dtype the forward kernel also writes V and D in it (what the readout's matmul
reads), and the backward kernel reads their gradients in it and writes the
gradient of `current` in `current`'s dtype, so that no separate casts pass
over the sequences.

The gradients are those of the step-by-step equations with the fast-sigmoid
surrogate (see `keras_hsru.ops`): with c_t = 1 - 2 S_{t+1},

    gD_t*   = gD_t + c_t gD_{t+1}*            (total gradient of D_t)
    gS_t    = gD_t* (1 - 2 D_{t-1})
    gV_t*   = gV_t + gS_t surrogate(V_t - theta) + alpha gV_{t+1}*
    dI_t = gV_t*,  dalpha = sum gV_t* V_{t-1},  dtheta = -sum gS_t surrogate_t.
"""

import triton
import triton.language as tl

TILE_STEPS = 64
BLOCK_UNITS = 32


@triton.jit
def _affine(decay_early, value_early, decay_late, value_late):
    # Compose h -> decay_early h + value_early, then h -> decay_late h + value_late.
    return decay_late * decay_early, decay_late * value_early + value_late


@triton.jit
def _forward_kernel(
    current, potential, memory, decay, threshold, potential0, memory0,
    potential_readout, memory_readout,
    length, units,
    TILE: tl.constexpr, BLOCK: tl.constexpr, READOUT: tl.constexpr,
):  # fmt: skip
    row = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    col_ok = cols < units
    steps = tl.arange(0, TILE)
    alpha = tl.load(decay + cols, mask=col_ok, other=0.0)
    theta = tl.load(threshold + cols, mask=col_ok, other=0.0)
    v = tl.load(potential0 + row * units + cols, mask=col_ok, other=0.0)
    d = tl.load(memory0 + row * units + cols, mask=col_ok, other=0.0)
    alphas = tl.zeros((TILE, BLOCK), tl.float32) + alpha[None, :]
    base = row.to(tl.int64) * length * units
    for start in range(0, length, TILE):
        t = start + steps
        ok = (t[:, None] < length) & col_ok[None, :]
        offsets = base + t[:, None].to(tl.int64) * units + cols[None, :]
        x = tl.load(current + offsets, mask=ok, other=0.0).to(tl.float32)
        growth, local = tl.associative_scan((alphas, x), 0, _affine)
        v_tile = local + growth * v[None, :]
        spikes = tl.where(ok & (v_tile > theta[None, :]), 1, 0)
        parity = (tl.cumsum(spikes, 0) % 2).to(tl.float32)
        d_tile = (1 - 2 * parity) * d[None, :] + parity
        tl.store(potential + offsets, v_tile, mask=ok)
        tl.store(memory + offsets, d_tile, mask=ok)
        if READOUT:
            readout_type = potential_readout.dtype.element_ty
            tl.store(potential_readout + offsets, v_tile.to(readout_type), mask=ok)
            tl.store(memory_readout + offsets, d_tile.to(readout_type), mask=ok)
        last = (steps == tl.minimum(length - start, TILE) - 1)[:, None]
        v = tl.sum(tl.where(last, v_tile, 0.0), 0)
        d = tl.sum(tl.where(last, d_tile, 0.0), 0)


@triton.jit
def _backward_kernel(
    grad_potential, grad_memory, grad_potential_readout, grad_memory_readout,
    potential, memory, decay, threshold, potential0, memory0,
    grad_current, grad_decay_part, grad_threshold_part, grad_potential0, grad_memory0,
    length, units, slope,
    TILE: tl.constexpr, BLOCK: tl.constexpr, STATE_GRAD: tl.constexpr, READOUT_GRAD: tl.constexpr,
):  # fmt: skip
    # The upstream gradients of (V, D) in float32 (STATE_GRAD) and of their
    # readout-dtype copies (READOUT_GRAD), summed; a False flag reads nothing.
    row = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    col_ok = cols < units
    # Rows of a tile run backwards in time, so a forward scan is the reverse recurrence.
    steps = TILE - 1 - tl.arange(0, TILE)
    alpha = tl.load(decay + cols, mask=col_ok, other=0.0)
    theta = tl.load(threshold + cols, mask=col_ok, other=0.0)
    v_first = tl.load(potential0 + row * units + cols, mask=col_ok, other=0.0)
    d_first = tl.load(memory0 + row * units + cols, mask=col_ok, other=0.0)
    alphas = tl.zeros((TILE, BLOCK), tl.float32) + alpha[None, :]
    base = row.to(tl.int64) * length * units
    carry_d = tl.zeros((BLOCK,), tl.float32)
    carry_v = tl.zeros((BLOCK,), tl.float32)
    sum_decay = tl.zeros((BLOCK,), tl.float32)
    sum_threshold = tl.zeros((BLOCK,), tl.float32)
    tiles = tl.cdiv(length, TILE)
    for k in range(0, tiles):
        t = (tiles - 1 - k) * TILE + steps
        ok = (t[:, None] < length) & col_ok[None, :]
        offsets = base + t[:, None].to(tl.int64) * units + cols[None, :]
        g_v = tl.zeros((TILE, BLOCK), tl.float32)
        g_d = tl.zeros((TILE, BLOCK), tl.float32)
        if STATE_GRAD:
            g_v += tl.load(grad_potential + offsets, mask=ok, other=0.0)
            g_d += tl.load(grad_memory + offsets, mask=ok, other=0.0)
        if READOUT_GRAD:
            g_v += tl.load(grad_potential_readout + offsets, mask=ok, other=0.0).to(tl.float32)
            g_d += tl.load(grad_memory_readout + offsets, mask=ok, other=0.0).to(tl.float32)
        v_t = tl.load(potential + offsets, mask=ok, other=0.0)
        after = ok & (t[:, None] + 1 < length)
        v_next = tl.load(potential + offsets + units, mask=after, other=0.0)
        has_previous = ok & (t[:, None] > 0)
        v_prev = tl.load(potential + offsets - units, mask=has_previous, other=0.0)
        d_prev = tl.load(memory + offsets - units, mask=has_previous, other=0.0)
        v_prev = tl.where(t[:, None] == 0, v_first[None, :], v_prev)
        d_prev = tl.where(t[:, None] == 0, d_first[None, :], d_prev)
        flip_next = tl.where(after & (v_next > theta[None, :]), -1.0, 1.0)
        growth_d, local_d = tl.associative_scan((flip_next, g_d), 0, _affine)
        g_d_total = local_d + growth_d * carry_d[None, :]
        g_spike = g_d_total * (1 - 2 * d_prev)
        distance = tl.abs(v_t - theta[None, :])
        surrogate = 1.0 / ((1.0 + slope * distance) * (1.0 + slope * distance))
        g_spike_v = tl.where(ok, g_spike * surrogate, 0.0)
        growth_v, local_v = tl.associative_scan((alphas, g_v + g_spike_v), 0, _affine)
        g_v_total = local_v + growth_v * carry_v[None, :]
        tl.store(grad_current + offsets, g_v_total.to(grad_current.dtype.element_ty), mask=ok)
        sum_decay += tl.sum(tl.where(ok, g_v_total * v_prev, 0.0), 0)
        sum_threshold -= tl.sum(g_spike_v, 0)
        earliest = (steps == 0)[:, None]
        carry_d = tl.sum(tl.where(earliest, g_d_total, 0.0), 0)
        carry_v = tl.sum(tl.where(earliest, g_v_total, 0.0), 0)
    v0_step = tl.load(potential + base + cols, mask=col_ok, other=0.0)
    flip_first = tl.where(v0_step > theta, -1.0, 1.0)
    tl.store(grad_potential0 + row * units + cols, alpha * carry_v, mask=col_ok)
    tl.store(grad_memory0 + row * units + cols, flip_first * carry_d, mask=col_ok)
    tl.store(grad_decay_part + row * units + cols, sum_decay, mask=col_ok)
    tl.store(grad_threshold_part + row * units + cols, sum_threshold, mask=col_ok)


def _grid(batch, units):
    return (batch, triton.cdiv(units, BLOCK_UNITS))


def forward(current, decay, threshold, potential0, memory0, readout_dtype=None):
    """V and D (float32) for a (batch, time, units) contiguous CUDA tensor `current`
    (float32, bfloat16 or float16) and float32 parameters and states; with a
    `readout_dtype`, also V and D in it."""
    import torch

    batch, length, units = current.shape
    potential = torch.empty(current.shape, dtype=torch.float32, device=current.device)
    memory = torch.empty_like(potential)
    readout = readout_dtype is not None
    if readout:
        potential_readout = torch.empty_like(potential, dtype=readout_dtype)
        memory_readout = torch.empty_like(potential, dtype=readout_dtype)
    else:  # not written: any pointers do
        potential_readout, memory_readout = potential, memory
    _forward_kernel[_grid(batch, units)](
        current, potential, memory, decay, threshold, potential0, memory0,
        potential_readout, memory_readout,
        length, units, TILE=TILE_STEPS, BLOCK=BLOCK_UNITS, READOUT=readout, num_warps=4,
    )  # fmt: skip
    if readout:
        return potential, memory, potential_readout, memory_readout
    return potential, memory


def backward(
    state_grads, readout_grads, potential, memory, decay, threshold, potential0, memory0, slope,
    current_dtype,
):  # fmt: skip
    """Gradients w.r.t. (current, decay, threshold, potential0, memory0).

    `state_grads` and `readout_grads` are the upstream gradients of (V, D) and
    of their readout copies, contiguous, each pair or None; the gradient of
    `current` comes in `current_dtype`.
    """
    import torch

    batch, length, units = potential.shape
    grad_current = torch.empty_like(potential, dtype=current_dtype)
    grad_decay = torch.empty_like(potential0)
    grad_threshold = torch.empty_like(potential0)
    grad_potential0 = torch.empty_like(potential0)
    grad_memory0 = torch.empty_like(potential0)
    # An absent pair is not read: any pointers do.
    state = state_grads or (potential, memory)
    readout = readout_grads or (potential, memory)
    _backward_kernel[_grid(batch, units)](
        *state, *readout, potential, memory, decay, threshold, potential0, memory0,
        grad_current, grad_decay, grad_threshold, grad_potential0, grad_memory0,
        length, units, float(slope), TILE=TILE_STEPS, BLOCK=BLOCK_UNITS,
        STATE_GRAD=state_grads is not None, READOUT_GRAD=readout_grads is not None,
        num_warps=4,
    )  # fmt: skip
    return grad_current, grad_decay.sum(0), grad_threshold.sum(0), grad_potential0, grad_memory0
