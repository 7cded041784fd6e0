"""Fused Pallas kernels for the HSRU state recurrence on CUDA (JAX backend).

The JAX counterpart of `_triton.py`: one kernel computes V (leaky
integration), S (spikes) and D (XOR memory) for a whole sequence in a single
pass over memory, and one kernel computes all their gradients in a single
reverse pass. They are written for Pallas' Triton lowering, which has no
associative scan with a custom combine, so each program owns one batch row and
`block_units` units and walks time sequentially, `unroll` steps per loop
iteration: those steps' rows are loaded before the first is used, so their
memory latencies overlap. Both are arguments (`benchmarks/pallas_kernel.py`
times the settings through `keras_hsru.ops.pallas_hybrid_scan`); the defaults
are the settings measured fastest.

The gradients are those of the step-by-step equations with the fast-sigmoid
surrogate, by the same recurrences as the Triton kernels (written out in
`_triton.py`), run one step at a time instead of as in-register scans.

The sequence `current` may be float32, bfloat16 or float16: each row is
widened as it is read, and V, D and every sum are float32. With a readout
dtype the forward kernel also writes V and D in it, and the backward kernel
reads those copies' gradients and writes `current`'s gradient in their
dtypes, instead of separate casts over the sequences. Upstream gradients that
are zero by construction (outputs nothing used) are not read.

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


def block_units(units, largest=BLOCK_UNITS):
    """The largest power of two up to `largest` that divides `units`
    (Triton's tensors have power-of-two sizes)."""
    block = largest
    while units % block:
        block //= 2
    return block


def _split(length, unroll):
    """`length` = head + blocks * unroll with 1 <= head <= unroll: every full
    block then has a previous step to read, and the head starts at t = 0."""
    head = _common.head_length(length, unroll)
    return head, (length - head) // unroll


def _forward_kernel(
    current, decay, threshold, potential0, memory0, potential, memory, *readout, unroll
):
    # `readout`: none, or the refs of V and D in the readout dtype.
    alpha, theta = decay[...], threshold[...]

    def steps(start, count, v, d):
        inputs = [current[start + i, :].astype(jnp.float32) for i in range(count)]
        for i, x in enumerate(inputs):
            v = alpha * v + x
            d = jnp.where(v > theta, 1.0 - d, d)  # D XOR S for a 0/1 spike
            potential[start + i, :] = v
            memory[start + i, :] = d
            for ref, value in zip(readout, (v, d)):
                ref[start + i, :] = value.astype(ref.dtype)
        return v, d

    head, blocks = _split(current.shape[0], unroll)
    carry = steps(0, head, potential0[...], memory0[...])
    jax.lax.fori_loop(0, blocks, lambda k, c: steps(head + k * unroll, unroll, *c), carry)


def _backward_kernel(*refs, slope, gradients, unroll):
    # refs: the upstream gradients (`gradients`: which of the gradients of V,
    # D, V_readout, D_readout are read, in that order), then potential,
    # memory, decay, threshold, potential0, memory0, then the outputs
    # grad_current, grad_decay, grad_threshold, grad_potential0, grad_memory0.
    count = sum(gradients)
    upstream = iter(refs[:count])
    grad_refs = [next(upstream) if present else None for present in gradients]
    potential, memory, decay, threshold, potential0, memory0 = refs[count : count + 6]
    grad_current, grad_decay, grad_threshold, grad_potential0, grad_memory0 = refs[count + 6 :]
    alpha, theta = decay[...], threshold[...]

    def upstream_at(t, which):
        # The summed gradient of V (which=0) or D (which=1) at step t, in float32.
        total = jnp.zeros_like(alpha)
        for ref in grad_refs[which::2]:
            if ref is not None:
                total = total + ref[t, :].astype(jnp.float32)
        return total

    def steps(start, count, carry, previous_v, previous_d):
        # Steps start + count - 1 down to start; previous_* hold V, D of start - 1.
        g_d_next, g_v_next, flip_next, sum_decay, sum_threshold = carry
        rows = range(count)
        g_v = [upstream_at(start + i, 0) for i in rows]
        g_d = [upstream_at(start + i, 1) for i in rows]
        v = [previous_v] + [potential[start + i, :] for i in rows]
        d = [previous_d] + [memory[start + i, :] for i in rows[:-1]]
        for i in reversed(rows):
            g_d_total = g_d[i] + flip_next * g_d_next
            g_spike = g_d_total * (1.0 - 2.0 * d[i])
            distance = 1.0 + slope * jnp.abs(v[i + 1] - theta)
            g_spike_v = g_spike / (distance * distance)
            g_v_total = g_v[i] + g_spike_v + alpha * g_v_next
            grad_current[start + i, :] = g_v_total.astype(grad_current.dtype)
            sum_decay = sum_decay + g_v_total * v[i]
            sum_threshold = sum_threshold - g_spike_v
            flip_next = jnp.where(v[i + 1] > theta, -1.0, 1.0)
            g_d_next, g_v_next = g_d_total, g_v_total
        return g_d_next, g_v_next, flip_next, sum_decay, sum_threshold

    length = potential.shape[0]
    head, blocks = _split(length, unroll)

    def block(k, carry):
        start = length - (k + 1) * unroll
        return steps(start, unroll, carry, potential[start - 1, :], memory[start - 1, :])

    zeros = jnp.zeros_like(alpha)
    carry = jax.lax.fori_loop(0, blocks, block, (zeros, zeros, zeros + 1.0, zeros, zeros))
    g_d_first, g_v_first, flip_first, sum_decay, sum_threshold = steps(
        0, head, carry, potential0[...], memory0[...]
    )
    grad_potential0[...] = alpha * g_v_first
    grad_memory0[...] = flip_first * g_d_first
    grad_decay[...] = sum_decay
    grad_threshold[...] = sum_threshold


def _call(kernel, inputs, outputs, interpret, largest_block):
    """Runs `kernel` with one program per (batch row, block of at most
    `largest_block` units); `outputs` are `(shape, dtype)` pairs."""
    batch, length, units = inputs[0].shape
    block = block_units(units, largest_block)

    def spec(shape):
        if len(shape) == 3:  # (batch, time, units): the row's whole sequence
            return pl.BlockSpec((None, length, block), lambda b, j: (b, 0, j))
        if len(shape) == 2:  # (batch, units)
            return pl.BlockSpec((None, block), lambda b, j: (b, j))
        return pl.BlockSpec((block,), lambda b, j: (j,))  # (units,)

    return pl.pallas_call(
        kernel,
        out_shape=[jax.ShapeDtypeStruct(shape, dtype) for shape, dtype in outputs],
        grid=(batch, units // block),
        in_specs=[spec(x.shape) for x in inputs],
        out_specs=[spec(shape) for shape, _ in outputs],
        compiler_params=pallas_triton.CompilerParams(num_warps=1, num_stages=1),
        interpret=interpret,
    )(*inputs)


@partial(jax.custom_vjp, nondiff_argnums=(3, 6, 7, 8, 9))
def hybrid_scan(
    decay,
    current,
    threshold,
    slope,
    potential0,
    memory0,
    interpret=False,
    readout_dtype=None,
    unroll=UNROLL,
    largest_block=BLOCK_UNITS,
):
    """V and D (float32) of `current` (batch, time, units; float32, bfloat16 or
    float16), per-unit float32 `decay` and `threshold`, initial states (batch,
    units); with a `readout_dtype`, also V and D in it. See
    `keras_hsru.ops.hybrid_scan` and `keras_hsru.ops.pallas_hybrid_scan`."""
    sequence = (current.shape, jnp.float32)
    outputs = [sequence, sequence]
    if readout_dtype is not None:
        outputs += [(current.shape, jnp.dtype(readout_dtype))] * 2
    return tuple(
        _call(
            partial(_forward_kernel, unroll=unroll),
            (current, decay, threshold, potential0, memory0),
            outputs,
            interpret,
            largest_block,
        )
    )


def _hybrid_scan_fwd(
    decay, current, threshold, slope, potential0, memory0, interpret, readout, unroll, block
):
    # symbolic_zeros: the primals come wrapped, the cotangents of unused outputs as SymbolicZero.
    decay, current, threshold, potential0, memory0 = (
        primal.value for primal in (decay, current, threshold, potential0, memory0)
    )
    states = hybrid_scan(
        decay, current, threshold, slope, potential0, memory0, interpret, readout, unroll, block
    )
    # An empty array carries current's dtype (residuals hold arrays only).
    dtype_of_current = jnp.zeros((0,), current.dtype)
    return states, (*states[:2], decay, threshold, potential0, memory0, dtype_of_current)


def _hybrid_scan_bwd(slope, interpret, readout_dtype, unroll, largest_block, residuals, upstream):
    potential, memory, decay, threshold, potential0, memory0, dtype_of_current = residuals
    current_dtype = dtype_of_current.dtype
    present = [not isinstance(g, jax.custom_derivatives.SymbolicZero) for g in upstream]
    grads = [g for g, here in zip(upstream, present) if here]
    state = (potential0.shape, jnp.float32)
    if not grads:
        # Nothing downstream used V or D: every gradient is zero.
        zeros = jnp.zeros_like(potential0)
        return (
            jnp.zeros_like(decay),
            jnp.zeros(potential.shape, current_dtype),
            jnp.zeros_like(threshold),
            zeros,
            zeros,
        )
    grad_current, grad_decay, grad_threshold, grad_potential0, grad_memory0 = _call(
        partial(_backward_kernel, slope=slope, gradients=tuple(present), unroll=unroll),
        (*grads, potential, memory, decay, threshold, potential0, memory0),
        [(potential.shape, current_dtype), state, state, state, state],
        interpret,
        largest_block,
    )
    return (
        jnp.sum(grad_decay, axis=0),
        grad_current,
        jnp.sum(grad_threshold, axis=0),
        grad_potential0,
        grad_memory0,
    )


hybrid_scan.defvjp(_hybrid_scan_fwd, _hybrid_scan_bwd, symbolic_zeros=True)
