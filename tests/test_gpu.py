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
