"""The spike's surrogate gradients: each equals its analytic derivative on every backend, in the
composed and the fused paths (or the fused path declines it), and serializes with the layers."""

import keras
import numpy as np
import pytest

import keras_hsru
from keras_hsru import ops as hsru_ops
from keras_hsru.ops import _algorithms
from tests.support import reference
from tests.support.backend_utils import fused_kernels_run_here, layer_gradients
from tests.support.helpers import draw_problem, make_layer, numpy

SURROGATES = hsru_ops.SURROGATES
SLOPE = 3.0
IMPLEMENTATIONS = ("auto", "scan", "loop") + (("fused",) if fused_kernels_run_here() else ())


def spike_gradient(x, slope, surrogate):
    """d sum(spike(x) * w) / dx on the active backend."""
    weights = np.linspace(-1, 2, x.size).reshape(x.shape).astype(np.float32)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tensor = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            loss = tf.reduce_sum(hsru_ops.spike(tensor, slope, surrogate) * weights)
        return tape.gradient(loss, tensor).numpy(), weights
    if backend == "jax":
        import jax

        def loss(v):
            return (hsru_ops.spike(v, slope, surrogate) * weights).sum()

        return np.asarray(jax.grad(loss)(x)), weights
    import torch

    tensor = torch.tensor(x, requires_grad=True)
    (hsru_ops.spike(tensor, slope, surrogate) * torch.tensor(weights)).sum().backward()
    return tensor.grad.numpy(), weights


@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("slope", [0.5, 5.0])
def test_each_surrogate_is_its_analytic_derivative(surrogate, slope):
    x = np.linspace(-3, 3, 61, dtype=np.float32).reshape(61, 1)
    got, weights = spike_gradient(x, slope, surrogate)
    want = reference.surrogate(x.astype(np.float64), slope, surrogate) * weights
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(numpy(hsru_ops.spike(x, slope, surrogate)), x > 0)


@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_layer_gradients_follow_the_surrogate_in_every_path(surrogate, implementation, rng):
    x, weights = draw_problem(rng, length=12)
    cotangents = np.random.default_rng(3)
    g_seq, g_y, g_v, g_d = (cotangents.normal(size=s) for s in [(3, 12, 5)] + [(3, 5)] * 3)
    layer = make_layer(
        "hsru",
        weights,
        4,
        5,
        slope=SLOPE,
        surrogate=surrogate,
        implementation=implementation,
        return_sequences=True,
        return_state=True,
    )
    _, dx, dw = layer_gradients(layer, x, [g_seq, g_y, g_v, g_d])
    upstream = g_seq.copy()
    upstream[:, -1] += g_y
    want_dx, want_dw = reference.hsru_gradients(
        x, weights, SLOPE, upstream, g_v, g_d, surrogate_name=surrogate
    )
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=1e-4)
    names = ["input_kernel", "input_bias", "tau", "threshold", "output_kernel", "output_bias"]
    for name, got, want in zip(names, dw, want_dw):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=name)


def test_the_cell_in_keras_rnn_follows_the_surrogate(rng):
    x, weights = draw_problem(rng, length=8)
    cotangent = np.random.default_rng(4).normal(size=(3, 8, 5))
    cell = keras_hsru.HSRUCell(5, surrogate_slope=SLOPE, surrogate="arctan")
    layer = keras.layers.RNN(cell, return_sequences=True)
    layer.build((None, None, 4))
    layer.set_weights(weights)
    _, dx, dw = layer_gradients(layer, x, [cotangent])
    zeros = np.zeros((3, 5))
    want_dx, want_dw = reference.hsru_gradients(
        x, weights, SLOPE, cotangent, zeros, zeros, surrogate_name="arctan"
    )
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dw[3], want_dw[3], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "place", [_algorithms.Place("torch", "cuda"), _algorithms.Place("jax", "gpu")]
)
def test_the_gpu_kernels_take_the_fast_sigmoid_only(place):
    choice = _algorithms.choose(place)
    assert choice.fused_takes("float32", "fast_sigmoid")
    for surrogate in SURROGATES[1:]:
        assert not choice.fused_takes("float32", surrogate)
    # The CPU loops take every surrogate.
    for cpu in (_algorithms.Place("jax", "cpu"), _algorithms.Place("tensorflow", "cpu")):
        assert all(_algorithms.choose(cpu).fused_takes("float32", s) for s in SURROGATES)


@pytest.mark.skipif(fused_kernels_run_here(), reason="a fused path runs here")
def test_fused_raises_naming_the_surrogate_where_no_fused_path_runs(rng):
    x, weights = draw_problem(rng, length=6)
    layer = make_layer("hsru", weights, 4, 5, surrogate="triangle", implementation="fused")
    with pytest.raises(ValueError, match="surrogate='triangle'"):
        layer(x)


def test_the_surrogate_round_trips_and_defaults_to_the_papers(tmp_path):
    layer = keras_hsru.HSRU(4, surrogate="sigmoid")
    assert keras_hsru.HSRU.from_config(layer.get_config()).surrogate == "sigmoid"
    assert keras_hsru.HSRU(4).surrogate == keras_hsru.HSRUCell(4).surrogate == "fast_sigmoid"
    model = keras.Sequential(
        [keras.Input((None, 2)), keras_hsru.AttentiveHSRU(3, surrogate="arctan")]
    )
    model.save(tmp_path / "model.keras")
    assert keras.saving.load_model(tmp_path / "model.keras").layers[0].surrogate == "arctan"
    # A config from before the argument existed loads with the paper's surrogate.
    config = keras_hsru.HSRUCell(4).get_config()
    del config["surrogate"]
    assert keras_hsru.HSRUCell.from_config(config).surrogate == "fast_sigmoid"


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras_hsru.HSRUCell(4, surrogate="relu"),
        lambda: keras_hsru.HSRU(4, surrogate="relu"),
        lambda: hsru_ops.spike(np.zeros(2, np.float32), 1.0, "relu"),
    ],
)
def test_an_unknown_surrogate_raises_naming_it(make):
    with pytest.raises(ValueError, match="surrogate='relu'"):
        make()


def test_a_surrogate_value_is_checked_hashable_and_serialisable():
    surrogate = keras_hsru.Surrogate("arctan", slope=2)
    assert surrogate is not None and keras_hsru.ops.Surrogate is keras_hsru.Surrogate
    assert surrogate.slope == 2.0 and isinstance(surrogate.slope, float)
    assert keras_hsru.Surrogate() == keras_hsru.Surrogate("fast_sigmoid", 5.0)
    assert len({surrogate, keras_hsru.Surrogate("arctan", 2.0)}) == 1
    assert keras_hsru.Surrogate.from_config(surrogate.get_config()) == surrogate
    config = keras.saving.serialize_keras_object(surrogate)
    assert keras.saving.deserialize_keras_object(config) == surrogate
    with pytest.raises(ValueError, match="surrogate='relu'"):
        keras_hsru.Surrogate("relu")
    for slope in (0.0, -1.0, float("nan"), "5"):
        with pytest.raises(ValueError, match="surrogate_slope="):
            keras_hsru.Surrogate("sigmoid", slope)


def test_a_surrogate_value_is_the_name_and_slope_given_apart(rng):
    x, weights = draw_problem(rng, length=6)
    value = keras_hsru.Surrogate("sigmoid", SLOPE)
    apart = make_layer("hsru", weights, 4, 5, slope=SLOPE, surrogate="sigmoid")
    together = make_layer("hsru", weights, 4, 5, slope=None, surrogate=value)
    unnamed = lambda layer: {**layer.get_config(), "name": None}  # noqa: E731
    assert unnamed(together) == unnamed(apart)
    assert together.cell.spike_surrogate == apart.cell.spike_surrogate == value
    cotangent = [np.random.default_rng(5).normal(size=(3, 5))]
    (want_y,), want_dx, want_dw = layer_gradients(apart, x, cotangent)
    (got_y,), got_dx, got_dw = layer_gradients(together, x, cotangent)
    np.testing.assert_array_equal(got_y, want_y)
    np.testing.assert_array_equal(got_dx, want_dx)
    for got, want in zip(got_dw, want_dw):
        np.testing.assert_array_equal(got, want)
    # The ops take it too: the spike's gradient is the pair's.
    points = np.linspace(-1.5, 1.5, 12, dtype=np.float32)
    np.testing.assert_array_equal(
        spike_gradient(points, None, value)[0], spike_gradient(points, SLOPE, "sigmoid")[0]
    )
    # Without a slope or a Surrogate, the op's slope is 1.
    np.testing.assert_array_equal(
        spike_gradient(points, None, "arctan")[0], spike_gradient(points, 1.0, "arctan")[0]
    )
    # What a callback such as SurrogateSlopeSchedule changes is what the ops get.
    together.cell.surrogate_slope = 7.0
    assert together.cell.spike_surrogate == keras_hsru.Surrogate("sigmoid", 7.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras_hsru.HSRU(4, surrogate_slope=3.0, surrogate=keras_hsru.Surrogate()),
        lambda: keras_hsru.AttentiveHSRUCell(
            4, surrogate_slope=3.0, surrogate=keras_hsru.Surrogate("arctan", 2.0)
        ),
        lambda: hsru_ops.spike(np.zeros(2, np.float32), 3.0, keras_hsru.Surrogate()),
    ],
)
def test_a_slope_beside_a_surrogate_value_must_agree_with_it(make):
    with pytest.raises(ValueError, match="Give the surrogate's slope once"):
        make()


def test_a_slope_beside_a_surrogate_value_may_repeat_it_and_a_name_needs_one():
    layer = keras_hsru.HSRUCell(4, surrogate_slope=2.0, surrogate=keras_hsru.Surrogate("arctan", 2))
    assert (layer.surrogate, layer.surrogate_slope) == ("arctan", 2.0)
    current = np.zeros((1, 3, 2), np.float32)
    decay, threshold = np.full(2, 0.5, np.float32), np.zeros(2, np.float32)
    with pytest.raises(ValueError, match="slope is missing"):
        hsru_ops.hybrid_scan(decay, current, threshold)
    v, _ = hsru_ops.hybrid_scan(decay, current, threshold, surrogate=keras_hsru.Surrogate())
    assert numpy(v).shape == (1, 3, 2)
