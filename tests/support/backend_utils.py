"""Gradients of a Keras layer on whichever backend is active, as NumPy arrays."""

import keras
import numpy as np


def _as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def layer_gradients(layer, inputs, cotangents, **call_kwargs):
    """Gradients of sum_i sum(cotangents[i] * outputs[i]) w.r.t. inputs and trainable weights.

    Returns (outputs, d_inputs, [d_weight for each trainable weight]).
    """
    backend = keras.backend.backend()
    inputs = np.asarray(inputs, np.float32)
    cotangents = [np.asarray(c, np.float32) for c in cotangents]

    def objective(outputs, cotangents=cotangents):
        return sum(
            keras.ops.sum(keras.ops.cast(o, "float32") * keras.ops.convert_to_tensor(c))
            for o, c in zip(_as_list(outputs), cotangents)
        )

    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(inputs)
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = layer(x, **call_kwargs)
            loss = objective(outputs)
        grads = tape.gradient(loss, [x] + [v.value for v in layer.trainable_variables])
    elif backend == "jax":
        import jax

        if not layer.built:
            layer.build(inputs.shape)

        # Everything the program reads is an argument, nothing a constant: two
        # layers of one configuration compile to one program, which the
        # persistent compilation cache (tests/conftest.py) then compiles once.
        def loss_fn(trainable, non_trainable, x, cotangents):
            outputs, _ = layer.stateless_call(trainable, non_trainable, x, **call_kwargs)
            return objective(outputs, cotangents), outputs

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]
        (_, outputs), (g_w, g_x) = jax.jit(
            jax.value_and_grad(loss_fn, argnums=(0, 2), has_aux=True)
        )(trainable, non_trainable, inputs, cotangents)
        grads = [g_x] + list(g_w)
    else:
        import torch

        x = torch.tensor(inputs, requires_grad=True)
        layer(x, **call_kwargs)  # build before touching the weights
        for v in layer.trainable_variables:
            v.value.grad = None
        outputs = layer(x, **call_kwargs)
        objective(outputs).backward()
        grads = [x.grad] + [v.value.grad for v in layer.trainable_variables]
        outputs = [o.detach() for o in _as_list(outputs)]
    to_numpy = keras.ops.convert_to_numpy
    grads = [None if g is None else to_numpy(g) for g in grads]
    return [to_numpy(o) for o in _as_list(outputs)], grads[0], grads[1:]


def fused_kernels_run_here():
    """Whether `hybrid_scan(fused=True)` can run in this session: TensorFlow's
    fused loop runs anywhere; torch's Triton kernels need CUDA and Triton; JAX
    has a fused loop on a CPU and Pallas kernels on a GPU."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return True
    if backend == "torch":
        import importlib.util

        import torch

        return torch.cuda.is_available() and importlib.util.find_spec("triton") is not None
    import jax

    return jax.default_backend() in ("cpu", "gpu")


def on_gpu():
    """Whether the active backend computes on a GPU in this session."""
    if keras.backend.backend() == "torch":
        import torch

        return torch.cuda.is_available()
    if keras.backend.backend() == "jax":
        import jax

        return jax.default_backend() == "gpu"
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))
