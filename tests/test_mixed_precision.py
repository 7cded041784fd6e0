"""Under mixed precision the layers compute in float16/bfloat16 but keep V and D in float32."""

import keras
import numpy as np
import pytest

import keras_hsru
from tests.support import reference
from tests.support.helpers import KINDS, draw_problem, numpy

POLICIES = ["mixed_float16", "mixed_bfloat16"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("policy", POLICIES)
def test_policy_is_honoured(kind, policy, rng):
    x, weights = draw_problem(rng, length=10)
    if kind == "cell":
        layer = keras.layers.RNN(
            keras_hsru.HSRUCell(5, dtype=policy), return_sequences=True, dtype=policy
        )
    else:
        layer = keras_hsru.HSRU(5, return_sequences=True, dtype=policy)
    layer.build((None, None, 4))
    layer.set_weights(weights)
    compute = policy.split("_")[1]
    assert layer.compute_dtype == compute and layer.cell.compute_dtype == compute
    variable_dtypes = {w.name: keras.backend.standardize_dtype(w.dtype) for w in layer.weights}
    assert set(variable_dtypes.values()) == {"float32"}
    out = layer(x)
    assert keras.backend.standardize_dtype(out.dtype) == compute
    tolerance = 2e-2 if policy == "mixed_float16" else 1e-1
    expected = reference.hsru_forward(x, weights, 5.0)[0]
    # A low-precision potential may land on the other side of theta and flip a
    # bit, so compare the bulk of the outputs.
    close = np.isclose(numpy(keras.ops.cast(out, "float32")), expected, atol=tolerance)
    assert close.mean() > 0.95


def test_whole_sequence_potential_integrates_in_float32():
    # alpha ~ 0.99995 and 2000 inputs of 1e-3: each increment is about one
    # float16 ulp of V, so a float16 accumulator would drift by tens of percent.
    units, length = 2, 2000
    layer = keras_hsru.HSRU(units, return_state=True, dtype="mixed_float16")
    layer.build((None, None, 1))
    w_in = np.full((1, units), 1e-3, np.float32)
    weights = [
        w_in,
        np.zeros(units),
        np.full(units, -10.0),
        np.full(units, 1e6),
        np.zeros((2 * units, units)),
        np.zeros(units),
    ]
    layer.set_weights([np.asarray(w, np.float32) for w in weights])
    x = np.ones((1, length, 1), np.float32)
    _, _, v, _ = layer(x)
    expected = reference.potentials(x, *[np.asarray(w, np.float64) for w in weights[:3]])[:, -1]
    np.testing.assert_allclose(numpy(keras.ops.cast(v, "float32")), expected, rtol=2e-3)


@pytest.mark.parametrize("kind", KINDS)
def test_trains_under_mixed_precision(kind):
    keras.config.set_dtype_policy("mixed_float16")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (128, 7, 1)).astype(np.float32)
    y = (x.sum((1, 2)) > 3.5).astype(np.float32)
    layer = keras.layers.RNN(keras_hsru.HSRUCell(8)) if kind == "cell" else keras_hsru.HSRU(8)
    model = keras.Sequential(
        [
            keras.Input((None, 1)),
            layer,
            keras.layers.Dense(1, activation="sigmoid", dtype="float32"),
        ]
    )
    model.compile(keras.optimizers.AdamW(1e-2, global_clipnorm=1.0), "binary_crossentropy")
    losses = model.fit(x, y, batch_size=32, epochs=4, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
