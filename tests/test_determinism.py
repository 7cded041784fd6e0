"""The same seed gives the same weights after training, bit for bit, on a CPU."""

import pytest

from tests.support.backend_utils import on_gpu
from tests.support.determinism import train_once, train_twice


@pytest.mark.skipif(on_gpu(), reason="the CPU's promise; tests/test_gpu.py checks a GPU")
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_one_seed_trains_to_the_same_weights(dropout):
    equal, largest = train_twice(seed=0, dropout=dropout)
    assert equal, largest


def test_another_seed_trains_to_other_weights():
    first, second = train_once(0, 0.0), train_once(1, 0.0)
    assert any((a != b).any() for a, b in zip(first, second))
