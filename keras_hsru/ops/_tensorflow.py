"""TensorFlow implementations of the HSRU operations (XLA-compatible graph ops)."""

import tensorflow as tf

# Private, but the only way to tell while building a graph whether XLA will
# compile it; TensorFlow's own control flow uses it for that.
from tensorflow.python.ops import control_flow_util

from keras_hsru.ops import _algorithms, _common
from keras_hsru.ops._common import tanh_dense  # noqa: F401 (the interface)


def _choice():
    """The algorithms for the graph or eager context being run (`_algorithms` decides)."""
    eager = tf.executing_eagerly()
    device = "gpu" if tf.config.list_logical_devices("GPU") else "cpu"
    place = _algorithms.Place("tensorflow", device, eager=eager, xla=not eager and _in_xla())
    return _algorithms.choose(place)


def spike(x, surrogate):
    @tf.custom_gradient
    def _spike(x):
        def grad(upstream):
            return surrogate.gradient(tf, upstream, x)

        return tf.cast(x > 0, x.dtype), grad

    return _spike(x)


def _time_major(x):
    return tf.transpose(x, [1, 0, 2])


def _doubling_scan(decay, inputs, reverse):
    """h_t = decay_t * h_{t-1} + inputs_t along axis 1 (h_{t+1} if reverse), from zero.

    Hillis-Steele doubling in a `tf.while_loop` of ceil(log2 L) passes. Shifts
    are gathers with a validity mask, so every tensor keeps its shape and the
    loop compiles with XLA for any (dynamic) length.
    """
    length = tf.shape(inputs)[1]
    steps = tf.range(length)
    constant = decay.shape.rank == 1

    def body(shift, decay, states):
        source = steps + shift if reverse else steps - shift
        valid = (source >= 0) & (source < length)
        source = tf.clip_by_value(source, 0, length - 1)
        mask = tf.cast(valid, states.dtype)[None, :, None]
        shifted = tf.gather(states, source, axis=1) * mask
        states = states + decay * shifted
        if constant:
            decay = decay * decay
        else:
            # Outside the sequence the identity map: decay 1.
            decay = decay * (tf.gather(decay, source, axis=1) * mask + (1 - mask))
        return shift * 2, decay, states

    _, _, states = tf.while_loop(
        lambda shift, decay, states: shift < length,
        body,
        (tf.constant(1), decay, inputs),
    )
    return states


# Steps per iteration of the sequential loops. TensorFlow's graph executor pays
# a few microseconds for every op and every loop iteration whatever its size,
# and per step the loops do little else.
_UNROLL = 16


def _in_xla():
    """Whether the graph being built is compiled by XLA (`jit_compile=True`)."""
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def _xla_time_loop(step, carry, sequences, output_specs, reverse):
    """`_time_loop` for XLA: one step per iteration over time-major copies.

    XLA compiles this form of loop well, and the unrolled one, which reads
    slices of the batch-major sequences, badly.
    """
    time_major = [_time_major(x) for x in sequences]
    length = tf.shape(time_major[0])[0]
    inputs = tuple(
        tf.TensorArray(x.dtype, size=length, element_shape=x.shape[1:]).unstack(x)
        for x in time_major
    )
    arrays = tuple(
        tf.TensorArray(spec.dtype, size=length, element_shape=spec.shape) for spec in output_specs
    )

    def body(i, carry, arrays):
        t = length - 1 - i if reverse else i
        carry, outputs = step(carry, tuple(x.read(t) for x in inputs))
        return i + 1, carry, tuple(array.write(t, o) for array, o in zip(arrays, outputs))

    _, carry, arrays = tf.while_loop(lambda i, *_: i < length, body, (0, carry, arrays))
    return carry, tuple(_time_major(array.stack()) for array in arrays)


def _joined(array):
    """A TensorArray's elements, each `(steps, ...)`, joined along their first
    axis: a stack and a reshape, since `TensorArray.concat` has no ONNX op
    (tf2onnx), and models that run these loops export to ONNX."""
    stacked = array.stack()
    shape = tf.shape(stacked)
    joined = tf.reshape(stacked, tf.concat([[shape[0] * shape[1]], shape[2:]], axis=0))
    joined.set_shape(tf.TensorShape([None]).concatenate(stacked.shape[2:]))
    return joined


def _time_loop(step, carry, sequences, reverse=False):
    """`carry, outputs = step(carry, inputs)` along axis 1 of the (batch, time,
    ...) `sequences` (a tuple); returns the final carry and a tuple of the
    outputs stacked along axis 1.

    Each `tf.while_loop` iteration runs `_UNROLL` steps: it slices their
    inputs out of the sequences, and writes their outputs at once. Reading
    slices rather than a time-major copy saves allocating a sequence-sized
    buffer per input, which on a CPU costs page faults. The
    sequences are padded at the end with zeros to a multiple of `_UNROLL` (no
    copy where they already are one), so that the TensorArray's elements all
    have one shape. Going forward the padded steps run last: their outputs are
    cut off, but the final carry has passed through them, so callers read the
    last output instead. In reverse they run first, so `step` must keep an
    all-zero carry zero on zero inputs. In a graph XLA compiles,
    `_xla_time_loop` serves instead.
    """
    # One step traced for the outputs' dtypes and shapes (unused, so pruned from a graph).
    _, output_specs = step(carry, tuple(x[:, 0] for x in sequences))
    if _in_xla():
        return _xla_time_loop(step, carry, sequences, output_specs, reverse)
    length = tf.shape(sequences[0])[1]
    chunks = (length + _UNROLL - 1) // _UNROLL
    padded = [
        tf.pad(x, [[0, 0], [0, chunks * _UNROLL - length]] + [[0, 0]] * (x.shape.rank - 2))
        for x in sequences
    ]
    arrays = tuple(
        tf.TensorArray(
            spec.dtype, size=chunks, element_shape=tf.TensorShape([_UNROLL]).concatenate(spec.shape)
        )
        for spec in output_specs
    )

    def body(i, carry, arrays):
        chunk = chunks - 1 - i if reverse else i
        # tf.slice with a static size, so that every slice has a known shape.
        begin = [0, chunk * _UNROLL]
        slices = [
            tf.slice(x, begin + [0] * (x.shape.rank - 2), [-1, _UNROLL] + [-1] * (x.shape.rank - 2))
            for x in padded
        ]
        steps = list(zip(*(tf.unstack(x, num=_UNROLL, axis=1) for x in slices)))
        outputs = [None] * _UNROLL
        for k in reversed(range(_UNROLL)) if reverse else range(_UNROLL):
            carry, outputs[k] = step(carry, steps[k])
        arrays = tuple(
            array.write(chunk, tf.stack(stacked)) for array, stacked in zip(arrays, zip(*outputs))
        )
        return i + 1, carry, arrays

    _, carry, arrays = tf.while_loop(lambda i, *_: i < chunks, body, (0, carry, arrays))
    return carry, tuple(_time_major(_joined(array)[:length]) for array in arrays)


def scan_in_chunks(fn, carry, sequences, chunk_length):
    """`carry, outputs = fn(carry, chunk)` over consecutive time chunks of the
    (batch, time, features) `sequences`; outputs (or None) joined along time.

    The first chunk holds 1 to `chunk_length` steps and the rest whole chunks,
    run by a `tf.while_loop` (the length may be dynamic in a graph).
    """
    # Static where known: XLA needs the TensorArray's size fixed.
    length = sequences.shape[1]
    if length is None:
        length = tf.shape(sequences)[1]
    head = _common.head_length(length, chunk_length)
    carry, head_outputs = fn(carry, sequences[:, :head])
    count = (length - head) // chunk_length
    if isinstance(count, int) and count == 0:
        return carry, head_outputs

    def chunk_at(i):
        begin = [0, head + i * chunk_length] + [0] * (sequences.shape.rank - 2)
        size = [-1, chunk_length] + [-1] * (sequences.shape.rank - 2)
        return tf.slice(sequences, begin, size)

    if head_outputs is None:
        _, carry = tf.while_loop(
            lambda i, _: i < count,
            lambda i, carry: (i + 1, fn(carry, chunk_at(i))[0]),
            (0, carry),
            maximum_iterations=count,  # XLA's gradient needs the bound
        )
        return carry, None
    # Time-major elements of a static time length (the head's may not be static).
    element_shape = tf.TensorShape([chunk_length]).concatenate(head_outputs.shape[:1])
    element_shape = element_shape.concatenate(head_outputs.shape[2:])
    array = tf.TensorArray(head_outputs.dtype, size=count, element_shape=element_shape)

    def body(i, carry, array):
        carry, outputs = fn(carry, chunk_at(i))
        return i + 1, carry, array.write(i, _time_major(outputs))

    _, carry, array = tf.while_loop(
        lambda i, *_: i < count, body, (0, carry, array), maximum_iterations=count
    )

    def joined():
        # The chunks' time-major outputs, concatenated along time.
        return tf.concat([head_outputs, _time_major(_joined(array))], axis=1)

    if isinstance(count, int):
        return carry, joined()
    # A TensorArray of no elements cannot be concatenated.
    return carry, tf.cond(count > 0, joined, lambda: head_outputs)


def fixed_length_trace():
    return False  # the time axis is traced symbolically


def inference_chunk_length():
    return _choice().inference_chunk_length


def right_padded_branch():
    return _choice().right_padded_branch


def _sequential_scan(decay, inputs, reverse):
    if decay.shape.rank == 1:
        sequences = (inputs,)

        def step(h, x):
            h = decay * h + x[0]
            return h, (h,)
    else:
        sequences = (decay, inputs)

        def step(h, decay_and_x):
            h = decay_and_x[0] * h + decay_and_x[1]
            return h, (h,)

    _, (states,) = _time_loop(step, tf.zeros_like(inputs[:, 0]), sequences, reverse=reverse)
    return states


def _scan(decay, inputs, reverse):
    """The linear recurrence, sequentially or by doubling as `_algorithms` decides."""
    if _choice().scan == "sequential":
        return _sequential_scan(decay, inputs, reverse)
    return _doubling_scan(decay, inputs, reverse)


def _cumulative_sum(x, reverse=False):
    """Cumulative sum along axis 1: sequential where the scans are (in graphs
    on a CPU, where TensorFlow's cumsum is the slower)."""
    if _choice().scan != "sequential":
        return tf.cumsum(x, axis=1, reverse=reverse)
    return _sequential_scan(tf.ones_like(x[0, 0]), x, reverse)


def _first_decay(decay):
    return decay[:, 0] if decay.shape.rank == 3 else decay


def linear_scan(decay, inputs, initial_state):
    @tf.custom_gradient
    def _linear_scan(decay, inputs, initial_state):
        first = _first_decay(decay)
        folded = tf.concat([inputs[:, :1] + (first * initial_state)[:, None], inputs[:, 1:]], 1)
        states = _scan(decay, folded, reverse=False)

        def grad(upstream):
            if decay.shape.rank == 3:
                # The adjoint at t is carried back by the decay of step t + 1.
                next_decay = tf.concat([decay[:, 1:], tf.zeros_like(decay[:, :1])], 1)
            else:
                next_decay = decay
            adjoint = _scan(next_decay, upstream, reverse=True)
            previous = tf.concat([initial_state[:, None], states[:, :-1]], 1)
            grad_decay = adjoint * previous
            if decay.shape.rank == 1:
                grad_decay = tf.reduce_sum(grad_decay, axis=(0, 1))
            return grad_decay, adjoint, first * adjoint[:, 0]

        return states, grad

    return _linear_scan(decay, inputs, initial_state)


def xor_scan(spikes, initial_state):
    @tf.custom_gradient
    def _xor_scan(spikes, initial_state):
        # Q_t = (-1) ** (number of spikes up to t), exact for up to 2**24 steps.
        sign = 1 - 2 * tf.math.floormod(_cumulative_sum(spikes), 2)
        memory = sign * initial_state[:, None] + (1 - sign) / 2

        def grad(upstream):
            weighted = upstream * (1 - 2 * memory)
            carried = _cumulative_sum(weighted, reverse=True)
            return (1 - 2 * spikes) * carried, tf.reduce_sum(upstream * sign, axis=1)

        return memory, grad

    return _xor_scan(spikes, initial_state)


def counter_scan(up, down, initial_state, modulus):
    @tf.custom_gradient
    def _counter_scan(up, down, initial_state):
        memory, counts = _common.counter_forward(up, down, initial_state, modulus, _cumulative_sum)

        def grad(upstream):
            return _common.counter_backward(
                up, down, initial_state, memory, counts, upstream, modulus, _cumulative_sum
            )

        return memory, grad

    return _counter_scan(up, down, initial_state)


def reset_counter_scan(moves, resets, initial_state, modulus):
    @tf.custom_gradient
    def _reset_counter_scan(moves, resets, initial_state):
        memory, counts = _common.reset_counter_forward(
            moves, resets, initial_state, modulus, _cumulative_sum, _scan
        )

        def grad(upstream):
            return _common.reset_counter_backward(
                moves, resets, initial_state, memory, counts, upstream, modulus, _scan
            )

        return memory, grad

    return _reset_counter_scan(moves, resets, initial_state)


def _fused_forward(decay, current, threshold, potential0, memory0):
    """V and D in one sequential loop (instead of two scans and a spike pass)."""

    def step(carry, current_t):
        states = _common.fused_forward_step(tf, decay, threshold, *carry, current_t[0])
        return states, states

    _, (potential, memory) = _time_loop(step, (potential0, memory0), (current,))
    return potential, memory


def _fused_backward(decay, threshold, surrogate, potential, memory, grad_v, grad_d):
    """The adjoints of the step-by-step recurrence, in one reverse loop
    (`_common.fused_backward_step`). Returns lV; the sums over time of lS s and
    of lV_{t+1} V_t (what theta's and alpha's gradients need); and
    lD_0 (1 - 2 S_0), the adjoint of D_{-1}.
    """

    def step(carry, sequences_t):
        carry = _common.fused_backward_step(tf, decay, threshold, surrogate, carry, sequences_t)
        return carry, (carry[0],)

    zeros = tf.zeros_like(potential[:, 0])
    (_, grad_memory0, through_spike_sum, decay_sum), (adjoint_v,) = _time_loop(
        step, (zeros,) * 4, (grad_v, grad_d, potential, memory), reverse=True
    )
    return adjoint_v, through_spike_sum, decay_sum, grad_memory0


def fused_hybrid_scan(
    decay, current, threshold, surrogate, potential0, memory0, force=False, readout_dtype=None,
):  # fmt: skip
    """V and D by one sequential loop forward and one backward, where
    `_algorithms` takes it (graphs on a CPU) or if `force` (the loop runs
    anywhere); None elsewhere. A half-precision `current` is widened first."""
    if not (force or _choice().fused == "loop"):
        return None
    current = tf.cast(current, decay.dtype)

    @tf.custom_gradient
    def _hybrid_scan(decay, current, threshold, potential0, memory0):
        potential, memory = _fused_forward(decay, current, threshold, potential0, memory0)

        def grad(grad_v, grad_d):
            # An output nothing depends on gets no upstream gradient.
            grad_v = tf.zeros_like(potential) if grad_v is None else grad_v
            grad_d = tf.zeros_like(memory) if grad_d is None else grad_d
            adjoint_v, through_spike_sum, decay_sum, grad_memory0 = _fused_backward(
                decay, threshold, surrogate, potential, memory, grad_v, grad_d
            )
            first_adjoint_v = adjoint_v[:, 0]
            return (
                tf.reduce_sum(decay_sum + first_adjoint_v * potential0, axis=0),
                adjoint_v,
                -tf.reduce_sum(through_spike_sum, axis=0),
                decay * first_adjoint_v,
                grad_memory0,
            )

        return (potential, memory), grad

    return _hybrid_scan(decay, current, threshold, potential0, memory0)
