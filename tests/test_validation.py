"""Every public entry point rejects bad arguments with a ValueError naming the value."""

import keras
import numpy as np
import pytest

import keras_hsru

CELLS = [keras_hsru.HSRUCell, keras_hsru.AnalogOnlyCell, keras_hsru.HSRU]


@pytest.mark.parametrize("cls", CELLS)
@pytest.mark.parametrize("units", [0, -3, 2.5, "4", None, True])
def test_units_must_be_positive_integer(cls, units):
    with pytest.raises(ValueError, match=f"units={units!r}"):
        cls(units)


@pytest.mark.parametrize("cls", [keras_hsru.HSRUCell, keras_hsru.HSRU])
@pytest.mark.parametrize("slope", [0, -1.0, float("inf"), float("nan"), "5"])
def test_surrogate_slope_must_be_positive_finite(cls, slope):
    with pytest.raises(ValueError, match="surrogate_slope="):
        cls(4, surrogate_slope=slope)


@pytest.mark.parametrize("cls", CELLS)
@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "0.1"])
def test_dropout_must_be_a_rate(cls, rate):
    with pytest.raises(ValueError, match=f"dropout={rate!r}"):
        cls(4, dropout=rate)


def test_implementation_must_be_known():
    with pytest.raises(ValueError, match="implementation='fast'"):
        keras_hsru.HSRU(4, implementation="fast")


@pytest.mark.parametrize(
    "make",
    [lambda: keras.layers.RNN(keras_hsru.HSRUCell(4)), lambda: keras_hsru.HSRU(4)],
)
def test_wrong_input_rank_fails_clearly(make):
    with pytest.raises(ValueError, match="ndim|shape"):
        make()(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="ndim|shape"):
        make()(np.zeros((2, 3, 4, 5), np.float32))


@pytest.mark.parametrize(
    "make",
    [lambda: keras.layers.RNN(keras_hsru.HSRUCell(4)), lambda: keras_hsru.HSRU(4)],
)
def test_feature_size_is_fixed_after_build(make):
    layer = make()
    layer(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="axis -1.*5.*6|6.*5"):
        layer(np.zeros((2, 3, 6), np.float32))


@pytest.mark.parametrize("cls", [keras_hsru.HSRU, keras_hsru.AttentiveHSRU])
@pytest.mark.parametrize(
    "name", ["return_sequences", "return_state", "go_backwards", "stateful", "unroll"]
)
@pytest.mark.parametrize("value", ["yes", 1, None])
def test_layer_flags_must_be_bools(cls, name, value):
    with pytest.raises(ValueError, match=f"{name}={value!r}"):
        cls(4, **{name: value})


@pytest.mark.parametrize("cls", [keras_hsru.HSRUCell, keras_hsru.HSRU])
def test_surrogate_slope_accepts_any_real_number(cls):
    layer = cls(4, surrogate_slope=np.float32(2.5))
    assert layer.surrogate_slope == 2.5
    assert type(layer.get_config()["surrogate_slope"]) is float


SEQUENCES = np.zeros((2, 3, 5), np.float32)
STATE = np.zeros((2, 4), np.float32)


@pytest.mark.parametrize("cls", [keras_hsru.HSRU, keras_hsru.AttentiveHSRU])
@pytest.mark.parametrize(
    "sequences, call_kwargs, message",
    [
        (np.zeros((2, 0, 5), np.float32), {}, "sequences.shape=\\(2, 0, 5\\)"),
        (SEQUENCES, {"initial_state": [STATE]}, "Received: 1 of shapes \\[\\(2, 4\\)\\]"),
        (SEQUENCES, {"initial_state": STATE}, "Received: 1 of shapes"),
        (
            SEQUENCES,
            {"initial_state": [STATE, STATE, np.zeros((2, 7), np.float32)]},
            "initial_state.shape=\\(2, 7\\)",
        ),
        (
            SEQUENCES,
            {"initial_state": [STATE, STATE, np.zeros((3, 4), np.float32)]},
            "initial_state.shape=\\(3, 4\\)",
        ),
        (SEQUENCES, {"mask": np.ones((2, 4), bool)}, "mask.shape=\\(2, 4\\)"),
        (SEQUENCES, {"mask": np.ones((2, 3, 1), bool)}, "mask.shape=\\(2, 3, 1\\)"),
    ],
)
def test_call_arguments_that_cannot_fit_fail_clearly(cls, sequences, call_kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(4)(sequences, **call_kwargs)


@pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="the import runs in a fresh Python with its own backend: once per CI run",
)
def test_a_backend_that_is_not_installed_fails_the_import_with_how_to_fix_it(tmp_path):
    import subprocess
    import sys

    from tests.support.scripts import ROOT

    # A fresh Python where torch cannot be imported, as on a machine without it.
    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import keras_hsru\n"
    )
    # Keras writes its config under KERAS_HOME: a scratch directory.
    env = {"PYTHONPATH": ROOT, "KERAS_BACKEND": "torch", "KERAS_HOME": str(tmp_path)}
    process = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert process.returncode != 0
    last = process.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: Keras is set to run on torch"), last
    assert "KERAS_BACKEND='torch'" in last and 'pip install ".[torch]"' in last, last
