"""The digital memory's kinds (`keras_hsru/layers/memory.py`): each one's scan is its step over time."""

import inspect

import keras
import numpy as np
import pytest

from keras_hsru.layers import attentive_hsru, hsru, memory
from tests.support.helpers import numpy

KINDS = {
    "xor bit": (memory.XorBit, 2),
    "latch": (memory.Latch, 2),
    "counter k=3": (memory.Counter, 3),
    "counter k=5": (memory.Counter, 5),
}


@pytest.mark.parametrize(
    "arguments, kind",
    [
        (("toggle", 2), memory.XorBit),
        (("toggle", 5), memory.Counter),
        (("latch", 2), memory.Latch),
    ],
)
def test_memory_kind_follows_the_cell_arguments(arguments, kind):
    chosen = memory.memory_kind(*arguments, units=3)
    assert type(chosen) is kind
    assert chosen.xor_bit == (kind is memory.XorBit)
    assert chosen.channels * 3 == (arguments[1] - 1) * 3


def test_a_latch_with_more_than_two_states_raises():
    with pytest.raises(ValueError, match="memory_states=3"):
        memory.memory_kind("latch", 3, units=2)


@pytest.mark.parametrize("name", KINDS)
def test_each_kind_scans_what_its_step_computes_step_by_step(name, rng):
    kind_class, states = KINDS[name]
    units, batch, length = 3, 2, 9
    kind = kind_class(units, states)
    up = rng.integers(0, 2, size=(batch, length, units)).astype(np.float32)
    down = rng.integers(0, 2, size=(batch, length, units)).astype(np.float32)
    up, down = keras.ops.convert_to_tensor(up), keras.ops.convert_to_tensor(down)
    if not kind.two_sided:
        down = None
    # A start on a count other than 0: each unit on one count.
    start = np.zeros((batch, kind.channels * units), np.float32)
    if kind.channels:
        start[:, units - 1] = 1.0
    scanned = numpy(kind.scan(up, down, keras.ops.convert_to_tensor(start)))
    state = keras.ops.convert_to_tensor(start)
    for t in range(length):
        state = kind.step(state, up[:, t], None if down is None else down[:, t])
        np.testing.assert_allclose(scanned[:, t], numpy(state), atol=1e-6, err_msg=f"step {t}")
    counts = numpy(kind.count(state))
    assert counts.shape == (batch, units)
    assert set(np.unique(counts)) <= set(range(states))


def test_the_layers_leave_the_memory_to_its_kinds():
    # No branch on the memory's arguments outside `memory.py`.
    for module in (hsru, attentive_hsru):
        source = inspect.getsource(module)
        for branch in ("memory_states ==", "memory_states !=", "memory ==", "memory !="):
            assert branch not in source, (module.__name__, branch)
