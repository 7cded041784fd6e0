"""Fused Pallas kernels for the HSRU state recurrence on CUDA (JAX backend).

The JAX counterpart of `_triton.py`: one kernel computes V (leaky
integration), S (spikes) and D (XOR memory) for a whole sequence in a single
pass over memory, and one kernel computes all their gradients in a single
reverse pass. They are written for Pallas' Triton lowering, which has no
associative scan with a custom combine, so each program owns one batch row and
`BLOCK_UNITS` units and walks time sequentially, `UNROLL` steps per loop
iteration: those steps' rows are loaded before the first is used, so their
memory latencies overlap.

The gradients are those of the step-by-step equations with the fast-sigmoid
surrogate, by the same recurrences as the Triton kernels (written out in
`_triton.py`), run one step at a time instead of as in-register scans.

With `interpret=True` the kernels run on any device through Pallas'
interpreter; the tests use it to check them on a CPU.
"""

from functools import partial

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as pallas_triton

from keras_hsru.ops import _common

BLOCK_UNITS = 32
UNROLL = 16


def block_units(units):
    """The largest power of two up to BLOCK_UNITS that divides `units`
    (Triton's tensors have power-of-two sizes)."""
    block = BLOCK_UNITS
    while units % block:
        block //= 2
    return block


def _split(length):
    """`length` = head + blocks * UNROLL with 1 <= head <= UNROLL: every full
    block then has a previous step to read, and the head starts at t = 0."""
    head = _common.head_length(length, UNROLL)
    return head, (length - head) // UNROLL


def _forward_kernel(current, decay, threshold, potential0, memory0, potential, memory):
    alpha, theta = decay[...], threshold[...]

    def steps(start, count, v, d):
        inputs = [current[start + i, :] for i in range(count)]
        for i, x in enumerate(inputs):
            v = alpha * v + x
            d = jnp.where(v > theta, 1.0 - d, d)  # D XOR S for a 0/1 spike
            potential[start + i, :] = v
            memory[start + i, :] = d
        return v, d

    head, blocks = _split(current.shape[0])
    carry = steps(0, head, potential0[...], memory0[...])
    jax.lax.fori_loop(0, blocks, lambda k, c: steps(head + k * UNROLL, UNROLL, *c), carry)


def _backward_kernel(
    grad_potential, grad_memory, potential, memory, decay, threshold, potential0, memory0,
    grad_current, grad_decay, grad_threshold, grad_potential0, grad_memory0,
    *, slope,
):  # fmt: skip
    alpha, theta = decay[...], threshold[...]

    def steps(start, count, carry, previous_v, previous_d):
        # Steps start + count - 1 down to start; previous_* hold V, D of start - 1.
        g_d_next, g_v_next, flip_next, sum_decay, sum_threshold = carry
        rows = range(count)
        g_v = [grad_potential[start + i, :] for i in rows]
        g_d = [grad_memory[start + i, :] for i in rows]
        v = [previous_v] + [potential[start + i, :] for i in rows]
        d = [previous_d] + [memory[start + i, :] for i in rows[:-1]]
        for i in reversed(rows):
            g_d_total = g_d[i] + flip_next * g_d_next
            g_spike = g_d_total * (1.0 - 2.0 * d[i])
            distance = 1.0 + slope * jnp.abs(v[i + 1] - theta)
            g_spike_v = g_spike / (distance * distance)
            g_v_total = g_v[i] + g_spike_v + alpha * g_v_next
            grad_current[start + i, :] = g_v_total
            sum_decay = sum_decay + g_v_total * v[i]
            sum_threshold = sum_threshold - g_spike_v
            flip_next = jnp.where(v[i + 1] > theta, -1.0, 1.0)
            g_d_next, g_v_next = g_d_total, g_v_total
        return g_d_next, g_v_next, flip_next, sum_decay, sum_threshold

    length = potential.shape[0]
    head, blocks = _split(length)

    def block(k, carry):
        start = length - (k + 1) * UNROLL
        return steps(start, UNROLL, carry, potential[start - 1, :], memory[start - 1, :])

    zeros = jnp.zeros_like(alpha)
    carry = jax.lax.fori_loop(0, blocks, block, (zeros, zeros, zeros + 1.0, zeros, zeros))
    g_d_first, g_v_first, flip_first, sum_decay, sum_threshold = steps(
        0, head, carry, potential0[...], memory0[...]
    )
    grad_potential0[...] = alpha * g_v_first
    grad_memory0[...] = flip_first * g_d_first
    grad_decay[...] = sum_decay
    grad_threshold[...] = sum_threshold


def _call(kernel, inputs, outputs, interpret):
    """Runs `kernel` with one program per (batch row, block of units)."""
    batch, length, units = inputs[0].shape
    block = block_units(units)

    def spec(shape):
        if len(shape) == 3:  # (batch, time, units): the row's whole sequence
            return pl.BlockSpec((None, length, block), lambda b, j: (b, 0, j))
        if len(shape) == 2:  # (batch, units)
            return pl.BlockSpec((None, block), lambda b, j: (b, j))
        return pl.BlockSpec((block,), lambda b, j: (j,))  # (units,)

    return pl.pallas_call(
        kernel,
        out_shape=[jax.ShapeDtypeStruct(shape, jnp.float32) for shape in outputs],
        grid=(batch, units // block),
        in_specs=[spec(x.shape) for x in inputs],
        out_specs=[spec(shape) for shape in outputs],
        compiler_params=pallas_triton.CompilerParams(num_warps=1, num_stages=1),
        interpret=interpret,
    )(*inputs)


@partial(jax.custom_vjp, nondiff_argnums=(3, 6))
def hybrid_scan(decay, current, threshold, slope, potential0, memory0, interpret=False):
    """V and D of float32 `current` (batch, time, units), per-unit `decay` and
    `threshold`, initial states (batch, units); see `keras_hsru.ops.hybrid_scan`."""
    potential, memory = _call(
        _forward_kernel,
        (current, decay, threshold, potential0, memory0),
        (current.shape, current.shape),
        interpret,
    )
    return potential, memory


def _hybrid_scan_fwd(decay, current, threshold, slope, potential0, memory0, interpret):
    states = hybrid_scan(decay, current, threshold, slope, potential0, memory0, interpret)
    return states, (*states, decay, threshold, potential0, memory0)


def _hybrid_scan_bwd(slope, interpret, residuals, upstream):
    potential, memory, decay, threshold, potential0, memory0 = residuals
    grad_potential, grad_memory = upstream
    state = potential0.shape
    grad_current, grad_decay, grad_threshold, grad_potential0, grad_memory0 = _call(
        partial(_backward_kernel, slope=slope),
        (grad_potential, grad_memory, potential, memory, decay, threshold, potential0, memory0),
        (potential.shape, state, state, state, state),
        interpret,
    )
    return (
        jnp.sum(grad_decay, axis=0),
        grad_current,
        jnp.sum(grad_threshold, axis=0),
        grad_potential0,
        grad_memory0,
    )


hybrid_scan.defvjp(_hybrid_scan_fwd, _hybrid_scan_bwd)
