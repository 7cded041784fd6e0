"""JAX implementations of the HSRU operations (native `jax.lax` primitives)."""

from functools import partial

import jax
import jax.numpy as jnp

from keras_hsru.ops import _algorithms, _common
from keras_hsru.ops._common import tanh_dense  # noqa: F401 (the interface)


def _choice():
    """The algorithms for JAX's default device (`_algorithms` decides)."""
    return _algorithms.choose(_algorithms.Place("jax", jax.default_backend()))


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def spike(x, surrogate):
    return (x > 0).astype(x.dtype)


def _spike_fwd(x, surrogate):
    return spike(x, surrogate), x


def _spike_bwd(surrogate, x, upstream):
    return (surrogate.gradient(jnp, upstream, x),)


spike.defvjp(_spike_fwd, _spike_bwd)


def _combine(earlier, later):
    # Composition of two affine maps h -> a*h + b, `earlier` applied first.
    return later[0] * earlier[0], later[0] * earlier[1] + later[1]


def _scan_over_time(step, carry, xs, reverse=False):
    """`lax.scan(step, carry, xs, reverse=reverse)` along axis 1 of the
    (batch, time, ...) arrays in `xs`, with the outputs stacked along axis 1.

    Each step reads and writes its time slice in place: transposing to
    time-major and back would copy each sequence twice more, and on a CPU a
    fresh sequence-sized buffer costs page faults.
    """
    length = jax.tree.leaves(xs)[0].shape[1]

    def at(t, tree):
        return jax.tree.map(lambda x: jax.lax.dynamic_index_in_dim(x, t, 1, False), tree)

    _, output_shapes = jax.eval_shape(step, carry, at(0, xs))
    outputs = jax.tree.map(
        lambda s: jnp.zeros((s.shape[0], length, *s.shape[1:]), s.dtype), output_shapes
    )

    def body(i, state):
        carry, outputs = state
        t = length - 1 - i if reverse else i
        carry, output = step(carry, at(t, xs))
        outputs = jax.tree.map(
            lambda buffer, value: jax.lax.dynamic_update_index_in_dim(buffer, value, t, 1),
            outputs,
            output,
        )
        return carry, outputs

    return _loop(length, body, (carry, outputs))


def _loop(count, body, state):
    """`lax.fori_loop(0, count, body, state)`, a while loop where `count` is
    symbolic (an export of a `None` axis: every exporter converts it).

    What `body` closes over travels in the loop's state instead: with a
    static input signature jax2onnx converts a loop's body on its own, and
    converts none that closes over a traced array.
    """
    # The index as the loop makes it: int32, or int64 with 64-bit types on.
    body, constants = jax.closure_convert(body, jnp.asarray(0, dtype=int), state)

    def converted(i, loop_state):
        state, constants = loop_state
        return body(i, state, *constants), constants

    if isinstance(count, int):
        return jax.lax.fori_loop(0, count, converted, (state, constants))[0]

    def step(counted):
        i, loop_state = counted
        return i + 1, converted(i, loop_state)

    _, (state, _) = jax.lax.while_loop(
        lambda counted: counted[0] < count, step, (0, (state, constants))
    )
    return state


def scan_in_chunks(fn, carry, sequences, chunk_length):
    """`carry, outputs = fn(carry, chunk)` over consecutive time chunks of the
    (batch, time, features) `sequences`; outputs (or None) joined along time.

    A `fori_loop` that reads each chunk in place and writes its outputs in
    place in one (batch, time, ...) buffer.
    """
    length = sequences.shape[1]
    if not isinstance(length, int):
        # A symbolic length (jax.export's shape polymorphism, as keras'
        # export traces a `None` time axis): how many chunks is unknown while
        # tracing, so the whole sequence is one chunk.
        return fn(carry, sequences)
    head = _common.head_length(length, chunk_length)
    carry, head_outputs = fn(carry, sequences[:, :head])
    count = (length - head) // chunk_length
    if count == 0:
        return carry, head_outputs

    def chunk_at(i):
        start = head + i * chunk_length
        return start, jax.lax.dynamic_slice_in_dim(sequences, start, chunk_length, axis=1)

    if head_outputs is None:

        def body(i, carry):
            return fn(carry, chunk_at(i)[1])[0]

        return _loop(count, body, carry), None

    outputs = jnp.zeros(
        (head_outputs.shape[0], length, *head_outputs.shape[2:]), head_outputs.dtype
    )
    outputs = jax.lax.dynamic_update_slice_in_dim(outputs, head_outputs, 0, axis=1)

    def body_with_outputs(i, state):
        carry, outputs = state
        start, chunk = chunk_at(i)
        carry, chunk_outputs = fn(carry, chunk)
        return carry, jax.lax.dynamic_update_slice_in_dim(outputs, chunk_outputs, start, axis=1)

    return _loop(count, body_with_outputs, (carry, outputs))


def fixed_length_trace():
    return False  # the time axis is traced symbolically


def inference_chunk_length():
    return _choice().inference_chunk_length


def right_padded_branch():
    return _choice().right_padded_branch


def _sequential_scan(decay, inputs, reverse):
    if decay.ndim == 1:

        def step(h, x):
            h = decay * h + x
            return h, h

        xs = inputs
    else:

        def step(h, decay_and_x):
            h = decay_and_x[0] * h + decay_and_x[1]
            return h, h

        xs = (decay, inputs)
    _, states = _scan_over_time(step, jnp.zeros_like(inputs[:, 0]), xs, reverse=reverse)
    return states


def _scan(decay, inputs, reverse):
    """h_t = decay_t * h_{t-1} + inputs_t along axis 1 (h_{t+1} if reverse), from zero,
    sequentially or by `associative_scan` as `_algorithms` decides."""
    if _choice().scan == "sequential":
        return _sequential_scan(decay, inputs, reverse)
    decay = jnp.broadcast_to(decay, inputs.shape)
    _, states = jax.lax.associative_scan(_combine, (decay, inputs), axis=1, reverse=reverse)
    return states


def _fold_initial_state(decay, inputs, initial_state):
    first_decay = decay[:, 0] if decay.ndim == 3 else decay
    return jnp.asarray(inputs).at[:, 0].add(first_decay * initial_state)


@jax.custom_vjp
def linear_scan(decay, inputs, initial_state):
    return _scan(decay, _fold_initial_state(decay, inputs, initial_state), False)


def _linear_scan_fwd(decay, inputs, initial_state):
    states = linear_scan(decay, inputs, initial_state)
    return states, (decay, states, initial_state)


def _linear_scan_bwd(residuals, upstream):
    decay, states, initial_state = residuals
    if decay.ndim == 3:
        # The adjoint at t is carried back by the decay of step t + 1.
        next_decay = jnp.concatenate([decay[:, 1:], jnp.zeros_like(decay[:, :1])], axis=1)
    else:
        next_decay = decay
    adjoint = _scan(next_decay, upstream, True)
    previous = jnp.concatenate([initial_state[:, None], states[:, :-1]], axis=1)
    grad_decay = adjoint * previous
    if decay.ndim == 1:
        grad_decay = jnp.sum(grad_decay, axis=(0, 1))
    first_decay = decay[:, 0] if decay.ndim == 3 else decay
    return grad_decay, adjoint, first_decay * adjoint[:, 0]


linear_scan.defvjp(_linear_scan_fwd, _linear_scan_bwd)


def _cumulative_sum(x, reverse=False):
    """Cumulative sum along axis 1: sequential where the scans are (on a CPU
    XLA's cumsum runs as slowly as its associative scan)."""
    if _choice().scan != "sequential":
        return jax.lax.cumsum(x, axis=1, reverse=reverse)
    return _sequential_scan(jnp.ones(x.shape[-1], x.dtype), x, reverse)


def _parity_sign(spikes):
    # Q_t = (-1) ** (number of spikes up to t), exact for up to 2**24 steps.
    count = _cumulative_sum(spikes)
    return 1 - 2 * jnp.mod(count, 2)


@jax.custom_vjp
def xor_scan(spikes, initial_state):
    sign = _parity_sign(spikes)
    return sign * initial_state[:, None] + (1 - sign) / 2


def _xor_scan_fwd(spikes, initial_state):
    sign = _parity_sign(spikes)
    memory = sign * initial_state[:, None] + (1 - sign) / 2
    return memory, (spikes, memory, sign)


def _xor_scan_bwd(residuals, upstream):
    spikes, memory, sign = residuals
    carried = _cumulative_sum(upstream * (1 - 2 * memory), reverse=True)
    return (1 - 2 * spikes) * carried, jnp.sum(upstream * sign, axis=1)


xor_scan.defvjp(_xor_scan_fwd, _xor_scan_bwd)


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def counter_scan(up, down, initial_state, modulus):
    return _common.counter_forward(up, down, initial_state, modulus, _cumulative_sum)[0]


def _counter_scan_fwd(up, down, initial_state, modulus):
    memory, counts = _common.counter_forward(up, down, initial_state, modulus, _cumulative_sum)
    return memory, (up, down, initial_state, memory, counts)


def _counter_scan_bwd(modulus, residuals, upstream):
    return _common.counter_backward(*residuals, upstream, modulus, _cumulative_sum)


counter_scan.defvjp(_counter_scan_fwd, _counter_scan_bwd)


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def reset_counter_scan(moves, resets, initial_state, modulus):
    return _common.reset_counter_forward(
        moves, resets, initial_state, modulus, _cumulative_sum, _scan
    )[0]


def _reset_counter_scan_fwd(moves, resets, initial_state, modulus):
    memory, counts = _common.reset_counter_forward(
        moves, resets, initial_state, modulus, _cumulative_sum, _scan
    )
    return memory, (moves, resets, initial_state, memory, counts)


def _reset_counter_scan_bwd(modulus, residuals, upstream):
    return _common.reset_counter_backward(*residuals, upstream, modulus, _scan)


reset_counter_scan.defvjp(_reset_counter_scan_fwd, _reset_counter_scan_bwd)


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def _sequential_hybrid_scan(decay, current, threshold, surrogate, potential0, memory0):
    """V, the spikes and D in one sequential loop over time (instead of two
    scans and a spike pass); the gradients in one reverse loop."""

    def step(carry, current_t):
        states = _common.fused_forward_step(jnp, decay, threshold, *carry, current_t)
        return states, states

    _, states = _scan_over_time(step, (potential0, memory0), current)
    return states


def _sequential_hybrid_scan_fwd(decay, current, threshold, surrogate, potential0, memory0):
    states = _sequential_hybrid_scan(decay, current, threshold, surrogate, potential0, memory0)
    return states, (*states, decay, threshold, potential0)


def _sequential_hybrid_scan_bwd(surrogate, residuals, upstream):
    """The adjoints back in time, one reverse loop (`_common.fused_backward_step`)."""
    potential, memory, decay, threshold, potential0 = residuals

    def step(carry, elems_t):
        carry = _common.fused_backward_step(jnp, decay, threshold, surrogate, carry, elems_t)
        return carry, carry[0]

    elems = (*upstream, potential, memory)
    zeros = jnp.zeros_like(potential0)
    (adjoint_v0, grad_memory0, through_spike_sum, decay_sum), adjoint_v = _scan_over_time(
        step, (zeros,) * 4, elems, reverse=True
    )
    return (
        jnp.sum(decay_sum + adjoint_v0 * potential0, axis=0),
        adjoint_v,
        -jnp.sum(through_spike_sum, axis=0),
        decay * adjoint_v0,
        grad_memory0,
    )


_sequential_hybrid_scan.defvjp(_sequential_hybrid_scan_fwd, _sequential_hybrid_scan_bwd)


def fused_hybrid_scan(
    decay, current, threshold, surrogate, potential0, memory0, force=False, readout_dtype=None,
):  # fmt: skip
    """V and D in one pass forward and one backward, where `_algorithms` has a
    fused path: on a CPU one sequential loop over time each (a half-precision
    `current` widened first), on a GPU the Pallas kernels (`_pallas.py`; the
    fast sigmoid only), which read a bfloat16 or float16 `current` as it is
    and, with a `readout_dtype`, also write V and D in it. Elsewhere None, or
    a ValueError if `force`.
    """
    choice = _choice()
    if not choice.fused_takes(str(current.dtype), surrogate.name):
        if not force:
            return None
        raise ValueError(
            "The fused HSRU kernels on JAX need a CPU, or a GPU, float32, bfloat16 or float16 "
            f"sequences and the fast sigmoid surrogate. Received: "
            f"device={jax.default_backend()!r}, dtype={current.dtype}, surrogate={surrogate.name!r}"
        )
    if choice.fused == "loop":
        return _sequential_hybrid_scan(
            decay, current.astype(decay.dtype), threshold, surrogate, potential0, memory0
        )
    from keras_hsru.ops import _pallas

    return _pallas.hybrid_scan(
        decay, current, threshold, surrogate.slope, potential0, memory0, readout_dtype=readout_dtype
    )
