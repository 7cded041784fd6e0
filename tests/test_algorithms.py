"""The choice of algorithm per backend and device is made in one place, and the docs show it."""

import importlib
import inspect
import os

import keras
import numpy as np
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
    with open(os.path.join(ROOT, "docs", "generated", "plans.md")) as f:
        assert f.read() == keras_hsru.ops.plan_table() == _algorithms.plan_table()


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


PLAN_CASES = [
    # implementation, xor bit, masked, training, chunk, branch, traced -> plan
    (("auto", True, False, True, 128, True, False), (False, None, "none", None)),
    (("auto", True, False, False, 128, True, False), (False, None, "none", 128)),
    (("auto", True, False, False, None, True, False), (False, None, "none", None)),
    (("fused", True, False, True, None, False, False), (False, True, "none", None)),
    (("scan", True, False, True, None, False, False), (False, False, "none", None)),
    (("auto", False, False, True, None, False, False), (False, False, "none", None)),
    (("auto", True, True, True, 128, True, False), (False, None, "right-padded branch", None)),
    (("auto", True, True, True, 128, False, False), (False, None, "masked scan", None)),
    (("auto", True, True, False, 128, True, True), (False, None, "masked scan", None)),
    (("scan", False, True, True, None, True, False), (False, False, "right-padded branch", None)),
    (("loop", True, True, False, 128, True, False), (True, None, "masked scan", None)),
    (("loop", False, False, True, 128, True, False), (True, None, "none", None)),
]


@pytest.mark.parametrize("call, expected", PLAN_CASES)
def test_one_plan_decides_each_call(call, expected):
    assert _algorithms.plan(*call) == _algorithms.Plan(*expected)


def test_plan_call_reads_this_place_and_checks_its_arguments():
    plan = keras_hsru.ops.plan_call("auto", masked=False, training=False)
    assert plan.forward_chunk_length == keras_hsru.ops.inference_chunk_length()
    masked = keras_hsru.ops.plan_call("auto", masked=True, training=True)
    branch = keras_hsru.ops.right_padded_branch() and not keras_hsru.ops.fixed_length_trace()
    assert masked.mask_route == ("right-padded branch" if branch else "masked scan")
    with pytest.raises(ValueError, match="implementation='cudnn'"):
        keras_hsru.ops.plan_call("cudnn")
    with pytest.raises(ValueError, match="masked=1"):
        keras_hsru.ops.plan_call("auto", masked=1)


def test_the_layer_does_what_the_plan_says(monkeypatch, rng):
    # A plan that chunks a training call by 3 steps: the layer follows it.
    calls = []

    def plan_call(implementation, **call):
        calls.append((implementation, call))
        return keras_hsru.ops.Plan(False, False, "none", 3)

    lengths = []
    scan_in_chunks = keras_hsru.ops.scan_in_chunks

    def recording(fn, carry, sequences, chunk_length):
        lengths.append(chunk_length)
        return scan_in_chunks(fn, carry, sequences, chunk_length)

    layer = keras_hsru.HSRU(3, return_sequences=True, implementation="scan")
    x = rng.normal(size=(2, 7, 2)).astype("float32")
    expected = keras.ops.convert_to_numpy(layer(x, training=True))
    monkeypatch.setattr(keras_hsru.ops, "plan_call", plan_call)
    monkeypatch.setattr(keras_hsru.ops, "scan_in_chunks", recording)
    got = keras.ops.convert_to_numpy(layer(x, training=True))
    assert calls == [("scan", {"xor_bit": True, "masked": False, "training": True})]
    assert lengths == [3]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
