"""Argument checks shared by the public API: each raises a ValueError naming the value."""

import math
import numbers

import numpy as np


def is_integer(value) -> bool:
    """An integral number that is not a bool (to Python, True is the integer 1)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
    """A real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"`{name}` must be a bool. Received: {name}={value!r}")
    return bool(value)


def check_units(units) -> int:
    return check_positive_int("units", units)


def check_rate(name: str, rate) -> float:
    if not is_real(rate) or not 0.0 <= rate < 1.0:
        raise ValueError(f"`{name}` must be a float in [0, 1). Received: {name}={rate!r}")
    return float(rate)


def check_choice(name: str, value, choices):
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}. Received: {name}={value!r}")
    return value


def check_step_input_shape(layer_name: str, input_shape):
    """A cell sees one time step, (batch, features): the sequence was rank 3."""
    if len(input_shape) != 2 or input_shape[-1] is None:
        raise ValueError(
            f"{layer_name} expects sequences of shape (batch, time, features) with "
            "a known number of features, i.e. steps of shape (batch, features). "
            f"Received a step of shape {tuple(input_shape)}"
        )


def check_positive_finite(name: str, value) -> float:
    if not is_real(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive finite number. Received: {name}={value!r}")
    return float(value)


def check_positive_int(name: str, value) -> int:
    if not is_integer(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def dimensions_agree(shape, expected, broadcast: bool = False) -> bool:
    """Same rank, and every dimension known in both is equal (or 1 in `shape`
    where `broadcast`). Unknown (None) dimensions are left to the backend."""
    shape, expected = tuple(shape), tuple(expected)
    if len(shape) != len(expected):
        return False
    for size, want in zip(shape, expected):
        if size is None or want is None or size == want or (broadcast and size == 1):
            continue
        return False
    return True


def shape_of(value) -> tuple:
    """The (static) shape of a tensor, array or nested list."""
    return tuple(value.shape) if hasattr(value, "shape") else np.shape(value)


def check_shape(name: str, value, expected, description: str, broadcast: bool = False):
    """Raises unless `value`'s shape agrees with `expected` (see `dimensions_agree`)."""
    shape = shape_of(value)
    if not dimensions_agree(shape, expected, broadcast):
        raise ValueError(
            f"`{name}` must have shape {description} = {tuple(expected)}. "
            f"Received: {name}.shape={shape}"
        )
