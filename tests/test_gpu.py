"""On a GPU: the layers and scans give the step loop's results on the device.

CI has no GPU, so these are skipped there; run them on a CUDA machine (CONTRIBUTING.md). The
other tests run on whatever device keras picks too, at small sizes; these add long sequences.
"""

import keras
import numpy as np
import pytest

import keras_hsru
from tests.conftest import BACKEND
from tests.support.backend_utils import on_gpu
from tests.support.helpers import draw_problem, numpy

pytestmark = pytest.mark.skipif(not on_gpu(), reason="needs a GPU")


def test_long_sequences_equal_the_step_loop_on_the_device(rng):
    x, weights = draw_problem(rng, batch=4, length=3000, input_dim=8, units=16)
    loop = keras.layers.RNN(keras_hsru.HSRUCell(16), return_sequences=True)
    loop.build((None, None, 8))
    loop.set_weights(weights)
    layer = keras_hsru.HSRU(16, return_sequences=True)
    layer.build((None, None, 8))
    layer.set_weights(weights)
    np.testing.assert_allclose(numpy(layer(x)), numpy(loop(x)), atol=1e-4)


@pytest.mark.skipif(BACKEND != "torch", reason="torch's CUDA scan")
@pytest.mark.parametrize("reverse", [False, True])
def test_torch_chunked_scan_equals_the_doubling_scan_on_cuda(reverse):
    import torch

    from keras_hsru.ops import _torch

    generator = torch.Generator(device="cuda").manual_seed(0)
    decay = torch.rand(256, device="cuda", generator=generator) * 0.999
    inputs = torch.randn(8, 5000, 256, device="cuda", generator=generator)
    chunked = _torch._scan_sequence(decay, inputs, reverse)
    doubling = _torch._scan(decay, inputs, reverse)
    torch.testing.assert_close(chunked, doubling, rtol=1e-4, atol=1e-4)


def test_two_identical_train_runs_give_identical_weights_with_the_frameworks_switches():
    # A fresh process: the switches are read when the framework starts
    # (tests/support/determinism.py; the user guide's "Determinism").
    import json

    from tests.support.scripts import run_script

    process = run_script(
        "tests/support/determinism.py", ['{"units": 256, "length": 1024}'], capture=True
    )
    result = json.loads(process.stdout.strip().splitlines()[-1])
    assert result["equal"], result


def _layer_and_gradients(implementation, x, weights, policy):
    layer = keras_hsru.HSRU(16, return_sequences=True, implementation=implementation, dtype=policy)
    layer.build((None, None, 8))
    layer.set_weights(weights)
    if BACKEND == "jax":
        import jax

        def loss(trainable):
            fixed = [w.value for w in layer.non_trainable_variables]
            outputs, _ = layer.stateless_call(trainable, fixed, x)
            return keras.ops.sum(keras.ops.square(keras.ops.cast(outputs, "float32")))

        grads = jax.grad(loss)([w.value for w in layer.trainable_weights])
        return numpy(layer(x)), [np.asarray(g) for g in grads]

    outputs = layer(x)
    outputs.float().square().sum().backward()
    return numpy(outputs), [w.value.grad.cpu().numpy() for w in layer.trainable_weights]


@pytest.mark.skipif(BACKEND == "tensorflow", reason="the fused GPU kernels serve JAX and torch")
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_the_kernels_in_half_precision_equal_the_scans_on_the_device(policy, rng):
    x, weights = draw_problem(rng, batch=4, length=3000, input_dim=8, units=16)
    fused = _layer_and_gradients("fused", x, weights, policy)
    scan = _layer_and_gradients("scan", x, weights, policy)
    tolerance = 2**-7 if policy == "mixed_bfloat16" else 2**-10
    for got, want in zip([fused[0], *fused[1]], [scan[0], *scan[1]]):
        got, want = np.asarray(got, np.float32), np.asarray(want, np.float32)
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * scale)


@pytest.mark.parametrize("chunk", [256, 1000])
def test_time_chunks_equal_the_whole_sequence_on_the_device(chunk, rng):
    from keras_hsru import ops as hsru_ops
    from tests.support import reference

    batch, length, units = 4, 5000, 32
    current = rng.normal(size=(batch, length, units)).astype(np.float32)
    decay = rng.uniform(0.2, 0.95, size=units).astype(np.float32)
    tau = np.log(np.expm1(-np.log(decay.astype(np.float64))))
    potentials = reference.potentials(current, np.eye(units), np.zeros(units), tau)
    threshold, _ = reference.threshold_in_gaps(potentials)
    results = [
        hsru_ops.hybrid_scan(
            decay, current, threshold.astype(np.float32), 3.0, time_chunk_length=chunk_length
        )  # fmt: skip
        for chunk_length in (chunk, None)
    ]
    np.testing.assert_allclose(numpy(results[0][0]), numpy(results[1][0]), atol=1e-4)
    np.testing.assert_array_equal(numpy(results[0][1]), numpy(results[1][1]))
