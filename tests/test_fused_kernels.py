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
    assert result.stdout.count(" ok") == 90


def _pallas_problem(rng, batch, length, units, dtype="float32"):
    import jax.numpy as jnp

    from keras_hsru.ops import _jax
    from tests.support import reference

    decay = rng.uniform(0.1, 0.95, units)
    current = jnp.asarray(rng.normal(size=(batch, length, units)), dtype)
    potential0 = rng.normal(size=(batch, units))
    memory0 = rng.uniform(size=(batch, units))
    # V does not depend on theta: put theta where no V is near it.
    potential = _jax.linear_scan(
        *(jnp.asarray(a, jnp.float32) for a in (decay, current, potential0))
    )
    threshold, _ = reference.threshold_in_gaps(np.asarray(potential))
    args = [jnp.asarray(a, jnp.float32) for a in (decay, threshold, potential0, memory0)]
    return [args[0], current, *args[1:]]


# Half precision: the input projection's dtype under mixed precision, with the readout copies of
# V and D; `used` are the outputs the loss reads (the others' gradients are symbolic zeros).
PALLAS_CASES = [
    ((2, 1, 3), "float32", (0, 1)),
    ((2, 37, 48), "float32", (0, 1)),
    ((2, 37, 48), "float32", (0,)),
    ((2, 37, 48), "bfloat16", (0, 1, 2, 3)),
    ((2, 37, 48), "bfloat16", (2, 3)),
    ((2, 37, 48), "float16", (1, 2)),
]


@pytest.mark.skipif(BACKEND != "jax", reason="the Pallas kernels serve the JAX backend")
@pytest.mark.parametrize("shape, dtype, used", PALLAS_CASES)
def test_pallas_kernels_match_composed_ops(shape, dtype, used, rng):
    import jax
    import jax.numpy as jnp

    from keras_hsru.ops import _jax, _pallas
    from keras_hsru.ops._common import Surrogate

    interpret = jax.default_backend() != "gpu"
    args = _pallas_problem(rng, *shape, dtype)
    readout = None if dtype == "float32" else dtype
    upstream = [
        jnp.asarray(rng.normal(size=shape), "float32" if i < 2 else dtype) for i in range(4)
    ]

    def fused(decay, current, threshold, potential0, memory0):
        return _pallas.hybrid_scan(
            decay, current, threshold, 3.0, potential0, memory0, interpret, readout
        )

    def composed(decay, current, threshold, potential0, memory0):
        potential = _jax.linear_scan(decay, current.astype(jnp.float32), potential0)
        memory = _jax.xor_scan(
            _jax.spike(potential - threshold, Surrogate("fast_sigmoid", 3.0)), memory0
        )
        if readout is None:
            return potential, memory
        return potential, memory, potential.astype(dtype), memory.astype(dtype)

    results = []
    for function in (fused, composed):

        def loss(*inputs, function=function):
            states = function(*inputs)
            return sum(jnp.sum(states[i].astype(jnp.float32) * upstream[i]) for i in used)

        states = function(*args)
        assert [str(s.dtype) for s in states] == ["float32"] * 2 + [dtype] * (len(states) - 2)
        results.append([*states, *jax.grad(loss, argnums=range(5))(*args)])
    assert str(results[0][-4].dtype) == dtype  # the gradient of `current`
    names = ["V", "D", "V_readout", "D_readout"][: len(results[0]) - 5]
    names += ["d_decay", "d_current", "d_threshold", "d_potential0", "d_memory0"]
    for name, got, want in zip(names, *results):
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        # Values rounded to a half dtype may differ by one unit in its last place.
        rounded = dtype != "float32" and name in ("V_readout", "D_readout", "d_current")
        rtol = {"bfloat16": 2**-7, "float16": 2**-10}[dtype] if rounded else 1e-5
        np.testing.assert_allclose(
            got, want, rtol=rtol, atol=rtol * max(1.0, float(np.abs(want).max())), err_msg=name
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


@pytest.mark.skipif(BACKEND != "jax", reason="the Pallas kernels serve the JAX backend")
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_pallas_half_precision_kernels_lower_to_triton_for_cuda(dtype):
    import jax
    import jax.numpy as jnp

    from keras_hsru.ops import _pallas

    def train_step(decay, current, threshold, potential0, memory0):
        def loss(*args):
            states = _pallas.hybrid_scan(*args[:3], 3.0, *args[3:], False, dtype)
            return jnp.sum(states[2].astype(jnp.float32)) + jnp.sum(states[3] * states[3])

        return jax.grad(loss, argnums=(0, 1, 2, 3, 4))(
            decay, current, threshold, potential0, memory0
        )

    batch, length, units = 2, 70, 48
    shapes = [(units,), (batch, length, units), (units,), (batch, units), (batch, units)]
    dtypes = ["float32", dtype, "float32", "float32", "float32"]
    specs = [jax.ShapeDtypeStruct(shape, d) for shape, d in zip(shapes, dtypes)]
    lowered = jax.jit(train_step).trace(*specs).lower(lowering_platforms=("cuda",))
    assert lowered.as_text().count("xla.gpu.triton") == 2


@pytest.mark.skipif(BACKEND != "jax", reason="the Pallas kernels serve the JAX backend")
@pytest.mark.parametrize("unroll, block_units", [(1, 4), (5, 32)])
def test_pallas_hybrid_scan_with_any_tiling_equals_the_composed_ops(rng, unroll, block_units):
    import jax
    import jax.numpy as jnp

    from keras_hsru import ops

    decay, current, threshold, potential0, memory0 = _pallas_problem(rng, 2, 13, 24)

    def loss(scan):
        def value(*args):
            potential, memory = scan(*args)
            return jnp.sum(potential * potential) + jnp.sum(memory * jnp.arange(24.0))

        return jax.value_and_grad(value, argnums=(0, 1, 2, 3, 4))

    def tiled(*args):
        return ops.pallas_hybrid_scan(
            *args[:3], 3.0, *args[3:], unroll=unroll, block_units=block_units, interpret=True
        )

    def composed(*args):
        return ops.hybrid_scan(*args[:3], 3.0, *args[3:], fused=False)

    args = (decay, current, threshold, potential0, memory0)
    (got, got_grads), (want, want_grads) = loss(tiled)(*args), loss(composed)(*args)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    for name, a, b in zip(["decay", "current", "threshold", "V0", "D0"], got_grads, want_grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"unroll": 0}, "unroll=0"),
        ({"block_units": 24}, "block_units=24"),
        ({"block_units": 0}, "block_units=0"),
        ({"interpret": "yes"}, "interpret='yes'"),
        ({"slope": -1.0}, "surrogate_slope=-1.0"),
    ],
)
def test_pallas_hybrid_scan_rejects_bad_arguments(kwargs, message):
    from keras_hsru import ops

    arguments = {"slope": 3.0, **kwargs}
    current = np.zeros((1, 3, 4), "float32")
    expected = message if BACKEND == "jax" else f"backend='{BACKEND}'"
    with pytest.raises(ValueError, match=expected):
        ops.pallas_hybrid_scan(np.ones(4) * 0.5, current, np.zeros(4), **arguments)
