"""Safe on every device by construction: no float64 on the default paths, compiled = eager.

Apple's Metal (MPS) has no float64, so a train step and a forward pass of `HSRU` must not
create one on any backend; torch's path off CUDA uses only ops torch implements everywhere
(the doubling scan: slicing, addcmul, mul, cumsum, remainder). And a compiled model (XLA on
TensorFlow, torch.compile, JAX's default jit) computes what the eager one does.
"""

import keras
import numpy as np
import pytest

import keras_hsru
from tests.conftest import BACKEND
from tests.support.helpers import draw_problem

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def hsru_layer(rng, **kwargs):
    x, weights = draw_problem(rng, batch=2, length=40)
    layer = keras_hsru.HSRU(5, return_sequences=True, **kwargs)
    layer.build((None, None, 4))
    layer.set_weights(weights)
    return layer, x


@pytest.mark.parametrize("training", [True, False])
def test_no_float64_in_a_train_step_or_a_forward_pass(training, rng):
    layer, x = hsru_layer(rng)
    if BACKEND == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss(trainable, x):
            outputs, _ = layer.stateless_call(trainable, non_trainable, x, training=training)
            return outputs.sum()

        # With 64-bit types enabled, so that a float64 constant would show as one.
        with jax.enable_x64(True):
            program = str(jax.make_jaxpr(jax.value_and_grad(loss))(trainable, x))
        assert "f32" in program and "f64" not in program
    elif BACKEND == "tensorflow":
        import tensorflow as tf

        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(x, training=training))
            return tape.gradient(loss, [v.value for v in layer.trainable_variables])

        graph = step.get_concrete_function(tf.TensorSpec((None, None, 4))).graph
        definition = str(graph.as_graph_def())  # while-loop bodies included
        assert "DT_FLOAT" in definition and "DT_DOUBLE" not in definition
    else:
        import torch
        from torch.utils._python_dispatch import TorchDispatchMode

        class Dtypes(TorchDispatchMode):
            seen = {}

            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                result = func(*args, **(kwargs or {}))
                for value in result if isinstance(result, (tuple, list)) else [result]:
                    if isinstance(value, torch.Tensor):
                        self.seen.setdefault(value.dtype, set()).add(str(func))
                return result

        inputs = torch.tensor(x)
        with Dtypes() as mode:
            layer(inputs, training=training).sum().backward()
        assert torch.float32 in mode.seen
        assert torch.float64 not in mode.seen, mode.seen[torch.float64]


def test_a_compiled_model_equals_the_eager_one(rng):
    x, weights = draw_problem(rng, batch=4, length=30)
    y = rng.normal(size=(4, 1)).astype("float32")
    results = {}
    # Eager, then compiled: XLA on TensorFlow, torch.compile, JAX's default jit.
    for name, arguments in (
        ("eager", {"run_eagerly": True}),
        ("compiled", {"jit_compile": True} if BACKEND != "jax" else {}),
    ):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((None, 4)), keras_hsru.HSRU(5), keras.layers.Dense(1)]
        )
        model.layers[0].set_weights(weights)
        model.compile(keras.optimizers.SGD(0.01), "mse", **arguments)
        losses = [float(model.train_on_batch(x, y)) for _ in range(3)]
        results[name] = (losses, model.predict(x, verbose=0), model.get_weights())
    (eager_losses, eager_out, eager_w), (losses, out, w) = results.values()
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    np.testing.assert_allclose(out, eager_out, atol=1e-5)
    for a, b in zip(w, eager_w):
        np.testing.assert_allclose(a, b, atol=1e-5)
