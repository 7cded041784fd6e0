"""The choice of algorithm per backend and device is made in one place, and the docs show it."""

import importlib
import inspect
import os

import keras
import pytest

import keras_hsru
from keras_hsru.ops import _algorithms
from tests.support.scripts import ROOT

BACKEND_MODULES = {
    "jax": ("jax", "keras_hsru.ops._jax"),
    "tensorflow": ("tensorflow", "keras_hsru.ops._tensorflow"),
    "torch": ("torch", "keras_hsru.ops._torch"),
}


@pytest.mark.parametrize("backend", sorted(BACKEND_MODULES))
def test_backend_modules_implement_one_interface(backend):
    framework, module_name = BACKEND_MODULES[backend]
    pytest.importorskip(framework)
    module = importlib.import_module(module_name)
    reference = importlib.import_module(BACKEND_MODULES["tensorflow"][1])
    for name in keras_hsru.ops.BACKEND_FUNCTIONS:
        function = getattr(module, name, None)
        assert callable(function), f"{module_name} lacks {name}"
        # Same parameters as every other backend's (a custom_vjp wraps the function).
        signature = inspect.signature(inspect.unwrap(getattr(function, "fun", function)))
        expected = inspect.signature(inspect.unwrap(getattr(reference, name)))
        assert list(signature.parameters) == list(expected.parameters), (module_name, name)


def test_the_docs_show_the_table_the_code_decides_by():
    # `python docs/regenerate.py algorithms` rewrites it.
    with open(os.path.join(ROOT, "docs", "generated", "algorithms.md")) as f:
        assert f.read() == keras_hsru.ops.algorithm_table() == _algorithms.table()


def test_every_documented_place_has_a_reason_and_known_algorithms():
    for _, _, place in _algorithms.DOCUMENTED_PLACES:
        choice = _algorithms.choose(place)
        assert choice.scan in ("sequential", "associative", "doubling", "chunked matmul")
        assert choice.fused in (None, "loop", "pallas", "triton")
        assert choice.why.endswith("."), choice


def test_the_fused_path_takes_only_its_dtypes():
    gpu = _algorithms.choose(_algorithms.Place("jax", "gpu"))
    # The GPU kernels read half-precision sequences themselves; float64 goes to the scans.
    assert all(gpu.fused_takes(dtype) for dtype in ("float32", "bfloat16", "float16"))
    assert not gpu.fused_takes("float64")
    cuda = _algorithms.choose(_algorithms.Place("torch", "cuda"))
    assert cuda.fused_takes("bfloat16") and not cuda.fused_takes("float64")
    assert _algorithms.choose(_algorithms.Place("jax", "cpu")).fused_takes("bfloat16")
    assert not _algorithms.choose(_algorithms.Place("torch", "cpu")).fused_takes("float32")


def test_an_unknown_backend_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="Received: backend='numpy'"):
        _algorithms.choose(_algorithms.Place("numpy", "cpu"))


def test_the_active_backend_follows_the_choice_here():
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        place = _algorithms.Place("jax", jax.default_backend())
    elif backend == "torch":
        import torch

        place = _algorithms.Place("torch", "cuda" if torch.cuda.is_available() else "cpu")
    else:
        pytest.skip("TensorFlow decides per graph; tests/test_hsru_scan.py covers its contexts")
    expected = _algorithms.choose(place).inference_chunk_length
    assert keras_hsru.ops.inference_chunk_length() == expected
