"""keras_hsru.ops on the active backend: forward values and gradients, eager and compiled."""

import keras
import numpy as np
import pytest

from keras_hsru import ops as hsru_ops
from tests.conftest import BACKEND


def compiled(fn):
    """fn compiled the way each backend compiles: jax.jit, XLA tf.function, eager torch."""
    if BACKEND == "jax":
        import jax

        return jax.jit(fn)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    return fn


def grad_of(fn, *args):
    """Gradients of sum(fn(*args) * weights) w.r.t. every arg, weights fixed by a seed."""
    args = [np.asarray(a, np.float32) for a in args]
    out_shape = np.asarray(keras.ops.convert_to_numpy(fn(*args))).shape
    weights = np.random.default_rng(7).normal(size=out_shape).astype(np.float32)
    if BACKEND == "jax":
        import jax

        return [
            np.asarray(g)
            for g in jax.grad(lambda *a: (fn(*a) * weights).sum(), argnums=tuple(range(len(args))))(
                *args
            )
        ]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        tensors = [tf.constant(a) for a in args]
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            loss = tf.reduce_sum(fn(*tensors) * weights)
        return [g.numpy() for g in tape.gradient(loss, tensors)]
    import torch

    tensors = [torch.tensor(a, requires_grad=True) for a in args]
    outputs = fn(*tensors)  # on keras' device, where the tensors are moved
    (outputs * torch.tensor(weights, device=outputs.device)).sum().backward()
    return [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_spike_forward_and_surrogate_gradient(mode):
    x = np.array([-3.0, -0.5, -1e-6, 0.0, 1e-6, 0.25, 4.0], np.float32)
    slope = 2.5

    def fn(v):
        return hsru_ops.spike(v, slope)

    f = compiled(fn) if mode == "compiled" else fn
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(f(x)), (x > 0).astype(np.float32))
    (grad,) = grad_of(f, x)
    weights = np.random.default_rng(7).normal(size=x.shape)
    np.testing.assert_allclose(grad, weights / (1 + slope * np.abs(x)) ** 2, rtol=1e-6)


def test_spike_keeps_dtype():
    x = keras.ops.array([-1.0, 1.0], dtype="float16")
    assert keras.backend.standardize_dtype(hsru_ops.spike(x, 1.0).dtype) == "float16"


@pytest.mark.parametrize("slope", [0, -1.0, float("inf"), float("nan"), "2", True])
def test_spike_rejects_bad_slope(slope):
    with pytest.raises(ValueError, match="surrogate_slope"):
        hsru_ops.spike(np.zeros(2, np.float32), slope)


def scan_reference(decay, inputs, initial):
    decay = np.broadcast_to(decay, inputs.shape).astype(np.float64)
    h = initial.astype(np.float64)
    out = np.zeros(inputs.shape)
    for t in range(inputs.shape[1]):
        h = decay[:, t] * h + inputs[:, t]
        out[:, t] = h
    return out


def scan_reference_grads(decay, inputs, initial, upstream):
    """Analytic adjoint of the linear recurrence, in float64."""
    full = np.broadcast_to(decay, inputs.shape).astype(np.float64)
    states = scan_reference(decay, inputs, initial)
    adjoint = np.zeros(inputs.shape)
    carry = np.zeros(inputs.shape[::2])
    for t in reversed(range(inputs.shape[1])):
        carry = upstream[:, t] + carry
        adjoint[:, t] = carry
        carry = carry * full[:, t]
    previous = np.concatenate([initial[:, None], states[:, :-1]], 1)
    g_decay = adjoint * previous
    if decay.ndim == 1:
        g_decay = g_decay.sum((0, 1))
    return g_decay, adjoint, full[:, 0] * adjoint[:, 0]


@pytest.mark.parametrize("length", [1, 2, 513, 2000])
@pytest.mark.parametrize("per_step", [False, True])
def test_linear_scan_matches_recurrence(length, per_step, rng):
    batch, units = 2, 3
    decay = rng.uniform(0.2, 0.999, (batch, length, units) if per_step else (units,)).astype(
        np.float32
    )
    inputs = rng.normal(size=(batch, length, units)).astype(np.float32)
    initial = rng.normal(size=(batch, units)).astype(np.float32)
    expected = scan_reference(decay, inputs, initial)
    for f in (hsru_ops.linear_scan, compiled(hsru_ops.linear_scan)):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(f(decay, inputs, initial)), expected, rtol=2e-4, atol=2e-4
        )
    grads = grad_of(hsru_ops.linear_scan, decay, inputs, initial)
    upstream = np.random.default_rng(7).normal(size=inputs.shape)
    for got, want in zip(grads, scan_reference_grads(decay, inputs, initial, upstream)):
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3 * np.abs(want).max())


def test_linear_scan_safe_at_long_length(rng):
    # alpha ** -t would overflow float32 long before 100,000 steps.
    decay = np.full((2,), 0.5, np.float32)
    inputs = np.ones((1, 100_000, 2), np.float32)
    out = keras.ops.convert_to_numpy(hsru_ops.linear_scan(decay, inputs))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0, -1], 2.0, rtol=1e-6)


def xor_reference(spikes, initial):
    d = initial.astype(np.float64)
    out = np.zeros(spikes.shape)
    for t in range(spikes.shape[1]):
        d = d * (1 - spikes[:, t]) + (1 - d) * spikes[:, t]
        out[:, t] = d
    return out


def xor_reference_grads(spikes, initial, upstream):
    """Backpropagation through the step-by-step XOR, in float64."""
    memory = xor_reference(spikes, initial)
    g_spikes = np.zeros(spikes.shape)
    carry = np.zeros(initial.shape)
    for t in reversed(range(spikes.shape[1])):
        carry = carry + upstream[:, t]
        previous = memory[:, t - 1] if t > 0 else initial
        g_spikes[:, t] = carry * (1 - 2 * previous)
        carry = carry * (1 - 2 * spikes[:, t])
    return g_spikes, carry


@pytest.mark.parametrize("length", [1, 2, 513, 2000])
@pytest.mark.parametrize("initial_kind", ["binary", "fractional"])
def test_xor_scan_matches_step_xor_and_its_gradient(length, initial_kind, rng):
    spikes = (rng.uniform(size=(2, length, 3)) < 0.3).astype(np.float32)
    if initial_kind == "binary":
        initial = (rng.uniform(size=(2, 3)) < 0.5).astype(np.float32)
    else:
        initial = rng.uniform(size=(2, 3)).astype(np.float32)
    expected = xor_reference(spikes, initial)
    for f in (hsru_ops.xor_scan, compiled(hsru_ops.xor_scan)):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(f(spikes, initial)), expected, atol=1e-6
        )
    grads = grad_of(hsru_ops.xor_scan, spikes, initial)
    upstream = np.random.default_rng(7).normal(size=spikes.shape)
    for got, want in zip(grads, xor_reference_grads(spikes, initial, upstream)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


def test_scans_reject_wrong_rank():
    with pytest.raises(ValueError, match="inputs.shape=\\(2, 3\\)"):
        hsru_ops.linear_scan(np.ones(3, np.float32), np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="decay.shape=\\(2, 3\\)"):
        hsru_ops.linear_scan(np.ones((2, 3), np.float32), np.ones((2, 4, 3), np.float32))
    with pytest.raises(ValueError, match="spikes.shape=\\(3,\\)"):
        hsru_ops.xor_scan(np.ones(3, np.float32))


def test_scans_reject_shapes_that_do_not_match_the_sequence():
    sequence = np.ones((2, 4, 3), np.float32)
    decay = np.full(3, 0.5, np.float32)
    with pytest.raises(ValueError, match="decay.shape=\\(5,\\)"):
        hsru_ops.linear_scan(np.full(5, 0.5, np.float32), sequence)
    with pytest.raises(ValueError, match="decay.shape=\\(2, 4, 2\\)"):
        hsru_ops.linear_scan(np.full((2, 4, 2), 0.5, np.float32), sequence)
    with pytest.raises(ValueError, match="initial_state.shape=\\(7, 3\\)"):
        hsru_ops.linear_scan(decay, sequence, np.zeros((7, 3), np.float32))
    with pytest.raises(ValueError, match="initial_state.shape=\\(2, 5\\)"):
        hsru_ops.xor_scan(sequence, np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="threshold.shape=\\(4,\\)"):
        hsru_ops.hybrid_scan(decay, sequence, np.zeros(4, np.float32), 1.0)
    with pytest.raises(ValueError, match="initial_memory.shape=\\(2, 1\\)"):
        hsru_ops.hybrid_scan(decay, sequence, decay, 1.0, None, np.zeros((2, 1), np.float32))
    # A per-step decay may broadcast over the batch.
    states = hsru_ops.linear_scan(np.full((1, 4, 3), 0.5, np.float32), sequence)
    assert tuple(states.shape) == (2, 4, 3)


@pytest.mark.skipif(BACKEND != "torch", reason="torch's CUDA fallback scan")
@pytest.mark.parametrize("reverse", [False, True])
def test_torch_chunked_scan_matches_recurrence(reverse, rng):
    # On CUDA without Triton, torch uses the chunked matmul scan; it runs on the CPU too.
    import torch

    from keras_hsru.ops import _torch

    decay = torch.tensor(rng.uniform(0.05, 0.999, 4), dtype=torch.float32)
    inputs = torch.tensor(rng.normal(size=(2, 300, 4)), dtype=torch.float32)
    chunked = _torch._chunked_scan(decay, inputs, reverse)
    step_order = inputs.numpy()[:, ::-1] if reverse else inputs.numpy()
    expected = scan_reference(decay.numpy(), step_order, np.zeros((2, 4)))
    if reverse:
        expected = expected[:, ::-1]
    np.testing.assert_allclose(chunked.numpy(), expected, rtol=1e-4, atol=1e-4)


def scan_problem(rng, batch, length, units, dtype=None):
    """`(decay, current, threshold, v0, d0)` float32 arguments of `hybrid_scan`, with the
    threshold where no V comes near it, and the float64 reference's V. With `dtype`, the
    current holds only values of that dtype (what a half-precision matmul hands over)."""
    from tests.support import reference

    current = rng.normal(size=(batch, length, units)).astype(np.float32)
    if dtype is not None:
        current = keras.ops.convert_to_numpy(
            keras.ops.cast(keras.ops.cast(current, dtype), "float32")
        )
    decay = rng.uniform(0.2, 0.9, size=units).astype(np.float32)
    v0 = rng.normal(size=(batch, units)).astype(np.float32)
    # A D_{-1} between 0 and 1 (a user's initial state) follows the same formula.
    d0 = rng.uniform(0, 1, size=(batch, units)).astype(np.float32)
    tau = np.log(np.expm1(-np.log(decay.astype(np.float64))))  # alpha = exp(-softplus(tau))
    potentials = reference.potentials(current, np.eye(units), np.zeros(units), tau, v0)
    threshold, margin = reference.threshold_in_gaps(potentials)
    assert margin.min() > 1e-4
    return (decay, current, threshold.astype(np.float32), v0, d0), potentials


@pytest.mark.parametrize("fused", [None, True, False])
@pytest.mark.parametrize("length", [1, 2, 32, 97])
def test_hybrid_scan_equals_the_composed_ops_eager_and_compiled(length, fused, rng):
    """hybrid_scan (by default fused where a backend fuses: TF graphs on a CPU, Triton on
    CUDA; fused=True: wherever the backend has a fused path; fused=False: never) ==
    linear_scan + spike + xor_scan, forward and gradients."""
    from tests.support.backend_utils import fused_kernels_run_here

    if fused and not fused_kernels_run_here():
        pytest.skip("no fused kernel runs here (test_fused_path_where_none_runs_is_an_error)")

    slope = 2.0
    args, _ = scan_problem(rng, 3, length, 4)

    def hybrid(decay, current, threshold, v0, d0):
        potential, memory = hsru_ops.hybrid_scan(
            decay, current, threshold, slope, v0, d0, fused=fused
        )
        return keras.ops.concatenate([potential, memory], axis=-1)

    def composed(decay, current, threshold, v0, d0):
        potential = hsru_ops.linear_scan(decay, current, v0)
        # keras.ops: `potential` may live on a GPU, `threshold` is a NumPy array.
        spikes = hsru_ops.spike(keras.ops.subtract(potential, threshold), slope)
        memory = hsru_ops.xor_scan(spikes, d0)
        return keras.ops.concatenate([potential, memory], axis=-1)

    expected = keras.ops.convert_to_numpy(composed(*args))
    expected_grads = grad_of(composed, *args)
    functions = [hybrid, compiled(hybrid)]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        # A graph without XLA, as keras runs TensorFlow models on a CPU.
        functions.append(tf.function(hybrid))
    for fn in functions:
        np.testing.assert_allclose(keras.ops.convert_to_numpy(fn(*args)), expected, atol=1e-5)
        for got, want in zip(grad_of(fn, *args), expected_grads):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fused", [None, False])
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_hybrid_scan_of_a_half_precision_current_keeps_float32_states(dtype, fused, rng):
    """Mixed precision: a bfloat16/float16 I gives float32 V and D, equal to the float32 scan of
    the same values, and with readout_dtype their copies in that dtype; gradients included."""
    units, slope = 4, 2.0
    args, _ = scan_problem(rng, 3, 40, units, dtype)

    def half(decay, current, threshold, v0, d0):
        states = hsru_ops.hybrid_scan(
            decay, keras.ops.cast(current, dtype), threshold, slope, v0, d0, fused=fused,
            readout_dtype=dtype,
        )  # fmt: skip
        dtypes = [keras.backend.standardize_dtype(state.dtype) for state in states]
        assert dtypes == ["float32", "float32", dtype, dtype]
        return keras.ops.concatenate([keras.ops.cast(state, "float32") for state in states], -1)

    def full(decay, current, threshold, v0, d0):
        potential, memory = hsru_ops.hybrid_scan(
            decay, current, threshold, slope, v0, d0, fused=False
        )
        copies = [keras.ops.cast(keras.ops.cast(s, dtype), "float32") for s in (potential, memory)]
        return keras.ops.concatenate([potential, memory, *copies], axis=-1)

    got, want = (keras.ops.convert_to_numpy(fn(*args)) for fn in (half, full))
    states, copies = slice(0, 2 * units), slice(2 * units, None)
    np.testing.assert_allclose(got[..., states], want[..., states], atol=1e-5)
    np.testing.assert_allclose(got[..., copies], want[..., copies], rtol=2**-7, atol=1e-5)
    for g, w in zip(grad_of(half, *args), grad_of(full, *args)):
        # The gradient of I comes in its dtype.
        np.testing.assert_allclose(g, w, rtol=2**-7, atol=2**-7 * max(1.0, np.abs(w).max()))


@pytest.mark.parametrize("fused", [None, False])
@pytest.mark.parametrize("length, chunk", [(30, 7), (32, 8), (9, 1), (5, 16)])
def test_time_chunked_hybrid_scan_equals_the_whole_sequence(length, chunk, fused, rng):
    """Chunks side by side (with a padded last chunk, one-step chunks, or one chunk for the
    whole sequence) give the states and gradients of the step-by-step equations."""
    units, slope = 3, 2.0
    args, potentials = scan_problem(rng, 2, length, units)
    decay, current, threshold = args[:3]

    def scan(chunk_length):
        def states(decay, current, threshold, v0, d0):
            potential, memory = hsru_ops.hybrid_scan(
                decay, current, threshold, slope, v0, d0, fused=fused,
                time_chunk_length=chunk_length,
            )  # fmt: skip
            return keras.ops.concatenate([potential, memory], axis=-1)

        return states

    chunked, whole = scan(chunk), scan(None)
    got = keras.ops.convert_to_numpy(chunked(*args))
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(whole(*args)), atol=1e-5)
    # V against the float64 reference too.
    np.testing.assert_allclose(got[..., :units], potentials, rtol=1e-5, atol=1e-5)
    for g, w in zip(grad_of(chunked, *args), grad_of(whole, *args)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="time_chunk_length=0"):
        hsru_ops.hybrid_scan(decay, current, threshold, slope, time_chunk_length=0)


def test_hybrid_scan_validates_the_current_and_readout_dtypes():
    decay = np.full(3, 0.5, np.float32)
    with pytest.raises(ValueError, match="readout_dtype='int32'"):
        hsru_ops.hybrid_scan(decay, np.ones((2, 4, 3), np.float32), decay, 1.0,
                             readout_dtype="int32")  # fmt: skip
    with pytest.raises(ValueError, match="dtype=int32"):
        hsru_ops.hybrid_scan(decay, np.ones((2, 4, 3), np.int32), decay, 1.0)


def test_fused_path_where_none_runs_is_an_error():
    from tests.support.backend_utils import fused_kernels_run_here

    if fused_kernels_run_here():
        pytest.skip("a fused kernel runs here")
    decay = np.full(3, 0.5, np.float32)
    sequence = np.ones((2, 4, 3), np.float32)
    with pytest.raises(ValueError, match="Received: device="):
        hsru_ops.hybrid_scan(decay, sequence, decay, 1.0, fused=True)


def test_hybrid_scan_rejects_a_fused_that_is_not_a_bool():
    decay = np.full(3, 0.5, np.float32)
    with pytest.raises(ValueError, match="fused='yes'"):
        hsru_ops.hybrid_scan(decay, np.ones((2, 4, 3), np.float32), decay, 1.0, fused="yes")


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's loop choice")
def test_tensorflow_loops_know_when_xla_compiles_them():
    """Under XLA the sequential loops take one step per iteration (XLA compiles
    the unrolled form badly): the check must see `jit_compile`."""
    import tensorflow as tf

    from keras_hsru.ops import _tensorflow

    seen = []

    def probe():
        seen.append(_tensorflow._in_xla())
        return tf.constant(0)

    tf.function(probe)()
    tf.function(probe, jit_compile=True)()
    assert seen == [False, True]


def _running_sums(total, chunk):
    """A chunk function with a carry: cumulative sums continued from `total`."""
    sums = keras.ops.cumsum(chunk, axis=1) + keras.ops.expand_dims(total, 1)
    return sums[:, -1], sums * sums


@pytest.mark.parametrize("length", [1, 3, 4, 5, 13])
@pytest.mark.parametrize("with_outputs", [True, False])
def test_scan_in_chunks_equals_the_whole_sequence(length, with_outputs, rng):
    """Chunks of 4 (a head of 1 to 4 steps, then whole chunks) give the outputs,
    final carry and gradients of one call over the whole sequence, eager and compiled."""
    x = rng.normal(size=(2, length, 3)).astype(np.float32)
    total0 = rng.normal(size=(2, 3)).astype(np.float32)

    def chunk_fn(total, chunk):
        total, squares = _running_sums(total, chunk)
        return total, (squares if with_outputs else None)

    def result(scan, x, total0):
        total, squares = scan(total0, x)
        if not with_outputs:
            assert squares is None
            return total
        return keras.ops.concatenate([squares, keras.ops.expand_dims(total, 1)], axis=1)

    def whole(x, total0):
        return result(chunk_fn, x, total0)

    def chunked(x, total0):
        return result(lambda t, x: hsru_ops.scan_in_chunks(chunk_fn, t, x, 4), x, total0)

    expected = keras.ops.convert_to_numpy(whole(x, total0))
    sums = total0[:, None] + np.cumsum(x, axis=1)
    np.testing.assert_allclose(
        expected[:, -1] if with_outputs else expected, sums[:, -1], atol=1e-5
    )
    expected_grads = grad_of(whole, x, total0)
    for fn in [chunked, compiled(chunked)]:
        np.testing.assert_allclose(keras.ops.convert_to_numpy(fn(x, total0)), expected, atol=1e-5)
        if fn is chunked or BACKEND != "tensorflow":
            for got, want in zip(grad_of(fn, x, total0), expected_grads):
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        def value_and_grads(x, total0):
            # Inside the graph: TensorFlow cannot differentiate a loop from
            # outside an XLA-compiled function (its TensorLists cannot cross).
            with tf.GradientTape() as tape:
                tape.watch([x, total0])
                value = chunked(x, total0)
                loss = tf.reduce_sum(value * tf.constant(weights))
            return value, tape.gradient(loss, [x, total0])

        weights = np.random.default_rng(7).normal(size=expected.shape).astype(np.float32)
        with tf.GradientTape() as tape:
            tensors = [tf.constant(x), tf.constant(total0)]
            tape.watch(tensors)
            want_loss = tf.reduce_sum(whole(*tensors) * weights)
        want_grads = tape.gradient(want_loss, tensors)
        signature = [tf.TensorSpec((2, None, 3)), tf.TensorSpec((2, 3))]
        # XLA, and a graph with a dynamic length without XLA.
        for graph in [
            tf.function(value_and_grads, jit_compile=True),
            tf.function(value_and_grads, input_signature=signature),
        ]:
            value, grads = graph(tf.constant(x), tf.constant(total0))
            np.testing.assert_allclose(value.numpy(), expected, atol=1e-5)
            for got, want in zip(grads, want_grads):
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "fn, sequences, chunk_length, message",
    [
        (_running_sums, np.ones((2, 5, 3)), 0, "chunk_length=0"),
        (_running_sums, np.ones((2, 5, 3)), 2.5, "chunk_length=2.5"),
        (_running_sums, np.ones((2, 5, 3)), True, "chunk_length=True"),
        ("sums", np.ones((2, 5, 3)), 4, "fn='sums'"),
        (_running_sums, np.ones((2, 5)), 4, r"sequences.shape=\(2, 5\)"),
        (_running_sums, np.ones((2, 0, 3)), 4, r"sequences.shape=\(2, 0, 3\)"),
    ],
)
def test_scan_in_chunks_rejects_bad_arguments(fn, sequences, chunk_length, message):
    with pytest.raises(ValueError, match=message):
        hsru_ops.scan_in_chunks(fn, np.zeros((2, 3), np.float32), sequences, chunk_length)


def test_inference_chunk_length_is_a_positive_int_or_none():
    chunk_length = hsru_ops.inference_chunk_length()
    assert chunk_length is None or (isinstance(chunk_length, int) and chunk_length > 0)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's chunk choice")
def test_tensorflow_chunks_forward_passes_where_the_algorithms_say():
    """Chunks of 128 in a graph without XLA on a CPU; the whole sequence
    eagerly and under XLA (`_algorithms.choose`)."""
    import tensorflow as tf

    seen = {}

    def probe(key):
        seen[key] = hsru_ops.inference_chunk_length()
        return tf.constant(0.0)

    probe("eager")
    tf.function(lambda: probe("graph"))()
    tf.function(lambda: probe("xla"), jit_compile=True)()
    on_gpu = bool(tf.config.list_logical_devices("GPU"))
    assert seen == {"eager": None, "graph": None if on_gpu else 128, "xla": None}


@pytest.mark.parametrize("shape", [(5, 3), (2, 7, 3)])
def test_tanh_dense_equals_the_float64_readout_with_its_gradients(shape, rng):
    """One input (a cell's step) or two (a sequence's V and D, each with its block of rows)."""
    units = 4
    count = 1 if len(shape) == 2 else 2
    inputs = [rng.normal(size=shape).astype(np.float32) for _ in range(count)]
    kernels = [rng.normal(size=(shape[-1], units)).astype(np.float32) for _ in range(count)]
    bias = rng.normal(size=units).astype(np.float32)
    pre = bias + sum(x.astype(np.float64) @ k for x, k in zip(inputs, kernels))
    got = hsru_ops.tanh_dense(inputs, kernels, bias)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), np.tanh(pre), atol=1e-5)

    def readout(*args):
        return hsru_ops.tanh_dense(list(args[:count]), list(args[count:-1]), args[-1])

    weights = np.random.default_rng(7).normal(size=(*shape[:-1], units))
    upstream = weights * (1 - np.tanh(pre) ** 2)  # through tanh
    rows = upstream.reshape(-1, units)
    expected = [upstream @ k.T for k in kernels]
    expected += [x.reshape(-1, shape[-1]).T.astype(np.float64) @ rows for x in inputs]
    expected += [rows.sum(0)]
    for g, w in zip(grad_of(readout, *inputs, *kernels, bias), expected):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


def test_tanh_dense_validates_its_arguments():
    x, kernel, bias = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), np.zeros(4)
    with pytest.raises(ValueError, match="non-empty list"):
        hsru_ops.tanh_dense([], [], bias)
    with pytest.raises(ValueError, match="list of 2 tensors"):
        hsru_ops.tanh_dense([x, x], [kernel], bias)
    with pytest.raises(ValueError, match=r"Received: shape=\(4, 4\)"):
        hsru_ops.tanh_dense([x], [np.ones((4, 4), np.float32)], bias)


@pytest.mark.parametrize("shape", [(5, 3), (2, 7, 3)])
def test_matmul_rows_equals_the_float64_product_with_its_gradients(shape, rng):
    x = rng.normal(size=shape).astype(np.float32)
    kernel = rng.normal(size=(3, 4)).astype(np.float32)
    got = keras.ops.convert_to_numpy(hsru_ops.matmul_rows(x, kernel))
    np.testing.assert_allclose(got, x.astype(np.float64) @ kernel, rtol=1e-5, atol=1e-5)
    upstream = np.random.default_rng(7).normal(size=(*shape[:-1], 4))
    expected = [
        upstream @ kernel.T,
        x.reshape(-1, 3).T.astype(np.float64) @ upstream.reshape(-1, 4),
    ]
    for g, w in zip(grad_of(hsru_ops.matmul_rows, x, kernel), expected):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


def test_matmul_rows_validates_its_arguments():
    with pytest.raises(ValueError, match=r"Received: x.shape=\(2, 3\), kernel.shape=\(4, 4\)"):
        hsru_ops.matmul_rows(np.ones((2, 3), np.float32), np.ones((4, 4), np.float32))
    with pytest.raises(ValueError, match=r"kernel.shape=\(3,\)"):
        hsru_ops.matmul_rows(np.ones((2, 3), np.float32), np.ones(3, np.float32))
