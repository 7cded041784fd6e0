"""SpikeRateRegularizer: the penalty on each unit's time-averaged spike rate, its gradient
through the surrogate, in every path of HSRU, on every backend; serialized like keras'."""

import keras
import numpy as np
import pytest

import keras_hsru
from keras_hsru.regularizers import SpikeRateRegularizer
from tests.support import reference
from tests.support.backend_utils import fused_kernels_run_here
from tests.support.helpers import draw_problem, make_layer, numpy

BACKEND = keras.backend.backend()
SLOPE = 5.0
IMPLEMENTATIONS = ("auto", "scan") + (("fused",) if fused_kernels_run_here() else ())


def penalty_and_gradients(layer, x, mask=None):
    """The layer's added losses in a training call, and their gradient for each weight."""
    kwargs = {"training": True} if mask is None else {"training": True, "mask": mask}
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            layer(x, **kwargs)
            loss = sum(layer.losses)
        grads = tape.gradient(loss, [v.value for v in layer.trainable_variables])
    elif BACKEND == "jax":
        import jax

        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss_fn(trainable):
            _, _, losses = layer.stateless_call(
                trainable, non_trainable, x, return_losses=True, **kwargs
            )
            return sum(losses)

        trainable = [v.value for v in layer.trainable_variables]
        loss, grads = jax.value_and_grad(loss_fn)(trainable)
    else:
        for v in layer.trainable_variables:
            v.value.grad = None
        layer(x, **kwargs)
        loss = sum(layer.losses)
        loss.backward()
        grads = [v.value.grad for v in layer.trainable_variables]
    names = [v.path.split("/")[-1] for v in layer.trainable_variables]
    return float(numpy(loss)), {n: None if g is None else numpy(g) for n, g in zip(names, grads)}


def expected(x, weights, target, weight, mask=None):
    """The penalty and its gradient for the threshold, from the float64 reference's V."""
    w_in, b_in, tau, theta = weights[:4]
    v = reference.potentials(np.asarray(x, np.float64), w_in, b_in, tau)
    if mask is not None:
        # Masked steps hold V; they count neither as spikes nor as steps.
        v = masked_potentials(x, weights, mask)
    valid = np.ones(v.shape[:2]) if mask is None else mask.astype(float)
    steps = valid.sum()
    spikes = (v > theta) * valid[..., None]
    rates = spikes.sum(axis=(0, 1)) / steps
    units = len(theta)
    penalty = weight * np.mean((rates - target) ** 2)
    surrogate = reference.surrogate(v - theta, SLOPE) * valid[..., None]
    d_rates = -surrogate.sum(axis=(0, 1)) / steps
    return penalty, weight * 2 / units * (rates - target) * d_rates


def masked_potentials(x, weights, mask):
    w_in, b_in, tau = (np.asarray(w, np.float64) for w in weights[:3])
    alpha = np.exp(-reference.softplus(tau))
    v = np.zeros((x.shape[0], w_in.shape[1]))
    out = np.zeros((*x.shape[:2], w_in.shape[1]))
    for t in range(x.shape[1]):
        keep = mask[:, t, None]
        v = np.where(keep, alpha * v + x[:, t] @ w_in + b_in, v)
        out[:, t] = v
    return out


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("masked", [False, "any", "right"])
def test_the_penalty_and_its_threshold_gradient_match_the_reference(implementation, masked, rng):
    x, weights = draw_problem(rng, batch=3, length=10, input_dim=4, units=5)
    mask = {
        False: None,
        "any": rng.uniform(size=(3, 10)) < 0.7,
        "right": np.arange(10) < np.array([[10], [4], [0]]),  # the unmasked scan's path
    }[masked]
    regularizer = SpikeRateRegularizer(target=0.2, weight=3.0)
    layer = make_layer(
        "hsru", weights, 4, 5, implementation=implementation, spike_rate_regularizer=regularizer
    )
    penalty, grads = penalty_and_gradients(layer, x, mask)
    want_penalty, want_threshold = expected(x, weights, 0.2, 3.0, mask)
    np.testing.assert_allclose(penalty, want_penalty, rtol=1e-5)
    np.testing.assert_allclose(grads["threshold"], want_threshold, rtol=1e-4, atol=1e-7)
    # The penalty reaches the input weights through V too, and not the readout.
    assert np.abs(grads["input_kernel"]).max() > 0
    assert grads["output_kernel"] is None or not np.any(grads["output_kernel"])


def test_no_penalty_outside_training_and_none_without_the_regularizer(rng):
    x, weights = draw_problem(rng, batch=2, length=6, input_dim=4, units=5)
    regularizer = SpikeRateRegularizer(target=0.2)
    layer = make_layer("hsru", weights, 4, 5, spike_rate_regularizer=regularizer)
    layer(x)
    assert layer.losses == []
    plain = make_layer("hsru", weights, 4, 5)
    plain(x, training=True)
    assert plain.losses == []


def test_evaluate_reports_the_task_loss_without_the_penalty(rng):
    # Unlike keras' activity regularisers, the penalty is a training objective only:
    # evaluate's loss is the task's, comparable across spike rate targets.
    x = rng.normal(size=(8, 6, 2)).astype("float32")
    y = rng.integers(0, 2, size=(8, 1)).astype("float32")
    models = []
    for regularizer in (SpikeRateRegularizer(target=1.0, weight=100.0), None):
        keras.utils.set_random_seed(0)
        model = keras_hsru.models.HSRURNN(
            4, layer_arguments={"spike_rate_regularizer": regularizer}
        )
        model.compile("sgd", "binary_crossentropy")
        models.append(model)
    regularized, plain = models
    plain(x)
    regularized(x)
    regularized.set_weights(plain.get_weights())
    evaluated = regularized.evaluate(x, y, batch_size=8, verbose=0)
    assert evaluated == pytest.approx(plain.evaluate(x, y, batch_size=8, verbose=0), rel=1e-5)
    # In training the penalty (large here: a target rate of 1) joins the loss.
    trained = regularized.train_on_batch(x, y)
    assert trained > evaluated + 1.0, (trained, evaluated)


def test_training_moves_the_spike_rate_to_the_target(rng):
    task = keras_hsru.tasks.TemporalParity(10, batch_size=32, steps_per_epoch=20, seed=0)
    rates = {}
    for target in (0.05, 0.9):
        keras.utils.set_random_seed(0)
        model = keras_hsru.models.HSRURNN(
            8,
            layer_arguments={"spike_rate_regularizer": SpikeRateRegularizer(target, weight=50.0)},
        )
        model.compile(keras.optimizers.AdamW(1e-2), "binary_crossentropy")
        monitor = keras_hsru.callbacks.SpikeMonitor(task.sample(128, seed=1))
        history = model.fit(task, epochs=2, callbacks=[monitor], verbose=0).history
        rates[target] = history["recurrent_0/spike_rate"][-1]
    assert rates[0.05] < 0.15 and rates[0.9] > 0.8, rates


def test_round_trips_through_get_config_and_keras_files(rng, tmp_path):
    regularizer = SpikeRateRegularizer(target=0.3, weight=0.5)
    layer = keras_hsru.HSRU(4, spike_rate_regularizer=regularizer)
    restored = keras_hsru.HSRU.from_config(layer.get_config())
    assert restored.spike_rate_regularizer.get_config() == {"target": 0.3, "weight": 0.5}
    model = keras.Sequential([keras.Input((None, 2)), keras_hsru.AttentiveHSRU(4, **{
        "spike_rate_regularizer": regularizer})])  # fmt: skip
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[0].spike_rate_regularizer.get_config() == regularizer.get_config()
    assert (
        keras_hsru.HSRU(4, spike_rate_regularizer={"target": 0.1}).spike_rate_regularizer.target
        == 0.1
    )


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SpikeRateRegularizer(target=1.5), "target=1.5"),
        (lambda: SpikeRateRegularizer(target=0.1, weight=-1.0), "weight=-1.0"),
        (lambda: SpikeRateRegularizer(target=0.1, weight=float("inf")), "weight=inf"),
        (lambda: keras_hsru.HSRU(4, spike_rate_regularizer="l2"), "spike_rate_regularizer='l2'"),
        (
            lambda: keras_hsru.HSRU(
                4, implementation="loop", spike_rate_regularizer=SpikeRateRegularizer(0.1)
            ),
            "implementation='loop'",
        ),
    ],
)
def test_invalid_arguments_raise_value_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()
