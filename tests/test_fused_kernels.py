"""The fused kernels equal the composed ops, forward and backward.

torch's Triton kernels run on the GPU on a CUDA machine, elsewhere under
Triton's CPU interpreter; that check runs in a subprocess because
TRITON_INTERPRET must be set before Triton is imported. JAX's Pallas kernels
run on a GPU or under Pallas' interpreter, and must lower to Triton for CUDA
on any machine.
"""

import numpy as np
import pytest

from tests.conftest import BACKEND
from tests.support.scripts import run_script


@pytest.mark.skipif(BACKEND != "torch", reason="the Triton kernels serve the torch backend")
def test_fused_kernels_match_composed_ops():
    pytest.importorskip("triton")
    import torch

    interpreter = {} if torch.cuda.is_available() else {"TRITON_INTERPRET": "1"}
    result = run_script(
        "tests/support/fused_kernel_check.py", check=False, capture=True, extra_env=interpreter
    )
    print(result.stdout[-3000:], result.stderr[-3000:])
    assert result.returncode == 0
    assert result.stdout.count(" ok") == 21


def _pallas_problem(rng, batch, length, units):
    import jax.numpy as jnp

    from keras_hsru.ops import _jax
    from tests.support import reference

    decay = rng.uniform(0.1, 0.95, units)
    current = rng.normal(size=(batch, length, units))
    potential0 = rng.normal(size=(batch, units))
    memory0 = rng.uniform(size=(batch, units))
    # V does not depend on theta: put theta where no V is near it.
    potential = _jax.linear_scan(
        *(jnp.asarray(a, jnp.float32) for a in (decay, current, potential0))
    )
    threshold, _ = reference.threshold_in_gaps(np.asarray(potential))
    args = (decay, current, threshold, potential0, memory0)
    return [jnp.asarray(a, jnp.float32) for a in args]


@pytest.mark.skipif(BACKEND != "jax", reason="the Pallas kernels serve the JAX backend")
@pytest.mark.parametrize("shape", [(2, 1, 3), (2, 37, 48)])
def test_pallas_kernels_match_composed_ops(shape, rng):
    import jax
    import jax.numpy as jnp

    from keras_hsru.ops import _jax, _pallas

    interpret = jax.default_backend() != "gpu"
    args = _pallas_problem(rng, *shape)
    upstream = [jnp.asarray(rng.normal(size=shape), jnp.float32) for _ in range(2)]

    def fused(decay, current, threshold, potential0, memory0):
        return _pallas.hybrid_scan(decay, current, threshold, 3.0, potential0, memory0, interpret)

    def composed(decay, current, threshold, potential0, memory0):
        potential = _jax.linear_scan(decay, current, potential0)
        return potential, _jax.xor_scan(
            _jax.spike(potential - threshold, 3.0, "fast_sigmoid"), memory0
        )

    results = []
    for function in (fused, composed):
        states, pullback = jax.vjp(function, *args)
        results.append([*states, *pullback(tuple(upstream))])
    names = ["V", "D", "d_decay", "d_current", "d_threshold", "d_potential0", "d_memory0"]
    for name, got, want in zip(names, *results):
        np.testing.assert_allclose(
            got, want, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(want).max())), err_msg=name
        )


@pytest.mark.skipif(BACKEND != "jax", reason="the Pallas kernels serve the JAX backend")
def test_pallas_kernels_lower_to_triton_for_cuda():
    # Lowering for CUDA needs no GPU: this catches what Pallas' Triton lowering rejects.
    import jax
    import jax.numpy as jnp

    from keras_hsru.ops import _pallas

    def train_step(decay, current, threshold, potential0, memory0):
        def loss(*args):
            potential, memory = _pallas.hybrid_scan(*args[:3], 3.0, *args[3:])
            return jnp.sum(potential) + jnp.sum(memory * memory)

        return jax.grad(loss, argnums=(0, 1, 2, 3, 4))(
            decay, current, threshold, potential0, memory0
        )

    batch, length, units = 2, 70, 48
    shapes = [(units,), (batch, length, units), (units,), (batch, units), (batch, units)]
    specs = [jax.ShapeDtypeStruct(shape, jnp.float32) for shape in shapes]
    lowered = jax.jit(train_step).trace(*specs).lower(lowering_platforms=("cuda",))
    text = lowered.as_text()
    assert text.count("xla.gpu.triton") == 2
    assert 'name = "_forward_kernel"' in text and 'name = "_backward_kernel"' in text
    # Units 48 = 3 blocks of 16 (the largest power of two up to 32 dividing 48).
    assert _pallas.block_units(units) == 16 and "grid_y = 3" in text
