"""HSRU operations, each implemented natively for the active Keras backend.

The layers call only `keras.ops` and the functions below:

- `spike(x, slope, surrogate)`: Heaviside step with a surrogate gradient
  (`SURROGATES`, the paper's fast sigmoid by default; `Surrogate` holds a
  shape and its slope as one value).
- `linear_scan(decay, inputs, initial_state)`: the leaky integration
  `V_t = decay_t * V_{t-1} + I_t` over a whole sequence, without a per-step loop.
- `xor_scan(spikes, initial_state)`: the digital memory
  `D_t = D_{t-1} XOR S_t` over a whole sequence, as the parity of a cumulative
  spike count, with the exact gradient of the step-by-step XOR.
- `counter_scan(up_spikes, down_spikes, modulus, initial_state)`: the k-state
  memory, a count modulo k moved up and down by spikes (one-hot over k), as
  a cumulative count with the exact gradient of the step-by-step counter.
- `reset_counter_scan(move_spikes, reset_spikes, modulus, initial_state)`: a
  count modulo k moved by several counts a step and reset by spikes, as
  a cumulative count and a linear scan in its turning frame, exact gradient
  included.
- `hybrid_scan(decay, current, threshold, slope, ...)`: V and D together, by
  the three above or by a backend's fused kernels (`_triton.py` for torch,
  `_pallas.py` for JAX, a sequential loop in `_tensorflow.py`);
  `pallas_hybrid_scan(...)`: JAX's Pallas kernels with a chosen tiling.
- `scan_in_chunks(fn, carry, sequences, chunk_length)`: a function carried
  over consecutive time chunks of a sequence, and `inference_chunk_length()`,
  the chunk length of the layers' forward pass without training here.
- `right_padded_branch()`: whether the layers' masked calls here send
  sequences padded at the end to the unmasked scan.
- `plan_call(implementation, xor_bit=, masked=, training=)`: what a layer's
  call runs (a `Plan`), decided from the above in `_algorithms.plan` alone.
- `tanh_dense(inputs, kernels, bias)` and `matmul_rows(x, kernel)`: the
  readout and the projections; `algorithm_table()`: the docs' table of
  which algorithm runs where, `plan_table()`: of what a call runs.

Which algorithm serves which backend and device is decided in one place,
`_algorithms.py`. Each backend module (`_jax.py`, `_tensorflow.py`,
`_torch.py`) implements the same interface, `BACKEND_FUNCTIONS` below, on
arguments these functions have validated and converted:

- `spike(x, surrogate)`, `linear_scan(decay, inputs, initial_state)`,
  `xor_scan(spikes, initial_state)`, `counter_scan(up, down, initial_state,
  modulus)`, `reset_counter_scan(moves, resets, initial_state, modulus)`,
  `scan_in_chunks(fn, carry, sequences,
  chunk_length)`, `inference_chunk_length()`, `right_padded_branch()`: as below;
- `fused_hybrid_scan(decay, current, threshold, surrogate, potential0,
  memory0, force=False, readout_dtype=None)`: `(V, D)` by the fused path (or
  `(V, D, V_readout, D_readout)` where its kernels write the readout copies),
  or None where there is none (a ValueError instead if `force`); `current`
  may be half precision, the rest is in the states' dtype;
- `tanh_dense(inputs, kernels, bias)`: as below, on converted tensors;
- `fixed_length_trace()`: whether the graph being traced fixes the sequence
  length (torch's tracer, which ONNX export uses), so that the layers can
  say so instead of exporting a graph that is wrong at other lengths.

The spike's surrogate travels from the public functions down as one value,
`Surrogate(name, slope)` (public, serialisable, checked when made): the
layers and the public ops take it, or a name and a slope that `as_surrogate`
makes into one.
"""

import keras

from keras_hsru._validation import (
    check_bool,
    check_choice,
    check_positive_finite,
    check_positive_int,
    check_shape,
    is_integer,
)
from keras_hsru.ops import _algorithms
from keras_hsru.ops._common import SURROGATES, Surrogate
from keras_hsru.ops._common import matmul_rows as matmul_rows_unchecked

# Sequence dtypes whose states are computed in float32.
HALF_DTYPES = ("bfloat16", "float16")

# The interface every backend module implements (see the module docstring).
BACKEND_FUNCTIONS = (
    "spike",
    "linear_scan",
    "xor_scan",
    "counter_scan",
    "fused_hybrid_scan",
    "scan_in_chunks",
    "inference_chunk_length",
    "right_padded_branch",
    "fixed_length_trace",
    "tanh_dense",
)

# The active backend's module, chosen once at import as keras chooses its own
# backend, so that each function's call into it is a plain reference.
_BACKEND = keras.backend.backend()
if _BACKEND == "jax":
    from keras_hsru.ops import _jax as _backend_module
elif _BACKEND == "tensorflow":
    from keras_hsru.ops import _tensorflow as _backend_module
elif _BACKEND == "torch":
    from keras_hsru.ops import _torch as _backend_module
else:
    _backend_module = None


def _implementation():
    if _backend_module is None:
        raise ValueError(
            "keras_hsru supports the backends 'jax', 'tensorflow' and 'torch'. "
            f"Received: backend={_BACKEND!r}"
        )
    return _backend_module


def check_slope(slope) -> float:
    """Returns `slope` as a float, or raises if it is not positive and finite."""
    return check_positive_finite("surrogate_slope", slope)


def _check_sequence(name, value, rank=3):
    if len(value.shape) != rank:
        raise ValueError(
            f"`{name}` must have rank {rank} (batch, time, units). "
            f"Received: {name}.shape={tuple(value.shape)}"
        )


def _check_per_unit(name, value, sequence):
    check_shape(name, value, (sequence.shape[-1],), "(units,)")


def _check_state(name, value, sequence):
    batch, _, units = sequence.shape
    check_shape(name, value, (batch, units), "(batch, units)")


def check_surrogate(surrogate) -> str:
    """Returns `surrogate` if it names one of `SURROGATES`, else raises."""
    return check_choice("surrogate", surrogate, SURROGATES)


def as_surrogate(surrogate, slope=None, default_slope: float | None = None) -> Surrogate:
    """One `Surrogate` from the public arguments a layer or an op takes.

    Args:
        surrogate: A `Surrogate`, or one of `SURROGATES`.
        slope: Optional positive finite float. Beside a `Surrogate` it must be
            its slope or None; beside a name it is the slope.
        default_slope: The slope of a name given without one; None: a
            ValueError asks for it.

    Returns:
        A `Surrogate`.

    Examples:
        >>> keras_hsru.ops.as_surrogate("sigmoid", None, default_slope=5.0)
        Surrogate(name='sigmoid', slope=5.0)
        >>> keras_hsru.ops.as_surrogate(keras_hsru.ops.Surrogate("arctan", 2.0), 2.0)
        Surrogate(name='arctan', slope=2.0)
    """
    if isinstance(surrogate, Surrogate):
        if slope is not None and check_slope(slope) != surrogate.slope:
            raise ValueError(
                "Give the surrogate's slope once: in `surrogate` or as the slope argument. "
                f"Received: surrogate={surrogate!r} and slope={slope!r}"
            )
        return surrogate
    check_surrogate(surrogate)
    if slope is None:
        if default_slope is None:
            raise ValueError(
                "The surrogate's slope is missing: give `slope`, or `surrogate` as a "
                f"`keras_hsru.ops.Surrogate`. Received: surrogate={surrogate!r}, slope=None"
            )
        slope = default_slope
    return Surrogate(surrogate, slope)


def spike(x, slope: float | None = None, surrogate: "str | Surrogate" = "fast_sigmoid"):
    """Heaviside step `1 if x > 0 else 0` with a surrogate gradient.

    The forward pass returns 0/1 values in the dtype of `x`. The backward pass
    returns `upstream * s(x)`, where `s` is the surrogate derivative, with
    slope `k`:

    - `"fast_sigmoid"` (default, the HSRU paper's): `1 / (1 + k|x|)^2`, the
      derivative of the fast sigmoid `x / (1 + k|x|)`;
    - `"sigmoid"`: `k * sigmoid(kx) * (1 - sigmoid(kx))`, the logistic's;
    - `"triangle"`: `max(0, 1 - k|x|)`;
    - `"arctan"`: `(k / 2) / (1 + (pi k x / 2)^2)`.

    Args:
        x: A floating point tensor of any shape.
        slope: Positive finite float `k`, the steepness of the surrogate.
            Default: `1.0`, or the slope of a `Surrogate` given as `surrogate`.
        surrogate: One of `keras_hsru.ops.SURROGATES`, or a `Surrogate`
            (its name and slope in one value). Default: `"fast_sigmoid"`.

    Returns:
        A tensor of the shape and dtype of `x` holding 0 and 1.

    Examples:
        >>> s = keras_hsru.ops.spike(keras.ops.convert_to_tensor([-1.0, 0.0, 2.0]), slope=4.0)
        >>> keras.ops.convert_to_numpy(s).tolist()
        [0.0, 0.0, 1.0]
    """
    surrogate = as_surrogate(surrogate, slope, default_slope=1.0)
    x = keras.ops.convert_to_tensor(x)
    if not keras.backend.is_float_dtype(keras.backend.standardize_dtype(x.dtype)):
        raise ValueError(f"`x` must be a floating point tensor. Received: dtype={x.dtype}")
    return _implementation().spike(x, surrogate)


def linear_scan(decay, inputs, initial_state=None):
    """All states of the linear recurrence `h_t = decay_t * h_{t-1} + inputs_t`.

    Computed without a per-step loop (a parallel scan), with a custom gradient
    that is itself a reverse linear scan. Numerically safe at any length: only
    products of decays are formed, never their inverses.

    Args:
        decay: Tensor of shape `(units,)` (one decay per unit, constant in time)
            or `(batch, time, units)` (one decay per step).
        inputs: Tensor of shape `(batch, time, units)`.
        initial_state: Optional tensor `(batch, units)`, `h_{-1}`. Zeros if None.

    Returns:
        A tensor of shape `(batch, time, units)`, `h_0 ... h_{T-1}`.

    Examples:
        >>> decay = keras.ops.convert_to_tensor([0.5])
        >>> inputs = keras.ops.ones((1, 4, 1))
        >>> h = keras_hsru.ops.linear_scan(decay, inputs)
        >>> keras.ops.convert_to_numpy(h[0, :, 0]).tolist()
        [1.0, 1.5, 1.75, 1.875]
    """
    inputs = keras.ops.convert_to_tensor(inputs)
    _check_sequence("inputs", inputs)
    # convert_to_tensor, not cast: it also moves a tensor to the device `inputs` is on.
    decay = keras.ops.convert_to_tensor(decay, inputs.dtype)
    if len(decay.shape) not in (1, 3):
        raise ValueError(
            "`decay` must have shape (units,) or (batch, time, units). "
            f"Received: decay.shape={tuple(decay.shape)}"
        )
    if len(decay.shape) == 3:
        check_shape("decay", decay, inputs.shape, "(batch, time, units)", broadcast=True)
        decay = keras.ops.broadcast_to(decay, keras.ops.shape(inputs))
    else:
        _check_per_unit("decay", decay, inputs)
    if initial_state is None:
        initial_state = keras.ops.zeros_like(inputs[:, 0])
    initial_state = keras.ops.convert_to_tensor(initial_state, inputs.dtype)
    _check_state("initial_state", initial_state, inputs)
    return _implementation().linear_scan(decay, inputs, initial_state)


def reset_counter_scan(move_spikes, reset_spikes, modulus: int, initial_state=None):
    """All states of a count modulo k that spikes move by several counts and reset.

    The memory of each unit is a vector `o` over the k counts (one-hot for a
    count). A step first resets, then moves:

    ```
    e   = (1 - r) o_{t-1} + r e_0              (a reset spike puts the count at 0)
    e   = (1 - s_j) e + s_j roll(e, 1)          for each move spike s_1 .. s_L
    o_t = e
    ```

    so for 0/1 spikes the count moves up by as many counts as the step has
    move spikes (with k - 1 of them, any element of Z_k in one step), after
    a reset to 0 where `r` is 1: with both, a step sets the count to any
    value. The moves of the cyclic group Z_k and the constant maps that no
    group has are Krohn-Rhodes' two building blocks. It is
    computed without a per-step loop, from the cumulative count and one
    linear scan over the k counts in the frame that turns with it (exact
    while the cumulative count stays under 2**24), with the exact gradient of
    the step-by-step formula above: a reverse linear scan in the same frame.

    Args:
        move_spikes: Tensor `(batch, time, L, units)` of 0/1 values, L >= 1.
        reset_spikes: Tensor `(batch, time, units)` of 0/1 values.
        modulus: Integer `k` of at least 2, the number of counts.
        initial_state: Optional tensor `(batch, k, units)`, `o_{-1}`: a
            distribution over the counts (one-hot for a count). None: every
            unit at count 0.

    Returns:
        A tensor `(batch, time, k, units)`, `o_0 ... o_{T-1}`.

    Examples:
        >>> moves = keras.ops.convert_to_tensor([[[[1.0], [1.0]], [[1.0], [0.0]],
        ...                                       [[0.0], [0.0]], [[1.0], [1.0]]]])
        >>> resets = keras.ops.convert_to_tensor([[[0.0], [0.0], [1.0], [0.0]]])
        >>> memory = keras_hsru.ops.reset_counter_scan(moves, resets, modulus=5)
        >>> keras.ops.convert_to_numpy(keras.ops.argmax(memory[0, :, :, 0], axis=-1)).tolist()
        [2, 3, 0, 2]
    """
    modulus = check_memory_states(modulus, "modulus")
    move_spikes = keras.ops.convert_to_tensor(move_spikes)
    if len(move_spikes.shape) != 4:
        raise ValueError(
            "`move_spikes` must have rank 4 (batch, time, moves, units). "
            f"Received: move_spikes.shape={tuple(move_spikes.shape)}"
        )
    dtype = keras.backend.standardize_dtype(move_spikes.dtype)
    if not keras.backend.is_float_dtype(dtype):
        raise ValueError(f"`move_spikes` must be a floating point tensor. Received: dtype={dtype}")
    batch, length, _, units = move_spikes.shape
    reset_spikes = keras.ops.convert_to_tensor(reset_spikes, dtype)
    check_shape("reset_spikes", reset_spikes, (batch, length, units), "(batch, time, units)")
    initial_state = _initial_counts(initial_state, move_spikes, modulus)
    return _implementation().reset_counter_scan(move_spikes, reset_spikes, initial_state, modulus)


def xor_scan(spikes, initial_state=None):
    """All states of the digital memory `D_t = D_{t-1} (1 - S_t) + (1 - D_{t-1}) S_t`.

    For 0/1 spikes this is `D_{-1} XOR parity(S_0 + ... + S_t)`, computed from a
    cumulative sum (exact for sequences of up to 2**24 steps). The custom
    gradient is the exact derivative of the step-by-step formula: a reverse
    cumulative sum, `dL/dS_t = (1 - 2 S_t) * sum_{u >= t} g_u (1 - 2 D_u)`.

    Args:
        spikes: Tensor `(batch, time, units)` of 0/1 values.
        initial_state: Optional tensor `(batch, units)`, `D_{-1}`. Zeros if None.

    Returns:
        A tensor of shape `(batch, time, units)`, `D_0 ... D_{T-1}`.

    Examples:
        >>> spikes = keras.ops.convert_to_tensor([[[1.0], [0.0], [1.0], [1.0]]])
        >>> memory = keras_hsru.ops.xor_scan(spikes)
        >>> keras.ops.convert_to_numpy(memory[0, :, 0]).tolist()
        [1.0, 1.0, 0.0, 1.0]
    """
    spikes = keras.ops.convert_to_tensor(spikes)
    _check_sequence("spikes", spikes)
    if initial_state is None:
        initial_state = keras.ops.zeros_like(spikes[:, 0])
    initial_state = keras.ops.convert_to_tensor(initial_state, spikes.dtype)
    _check_state("initial_state", initial_state, spikes)
    return _implementation().xor_scan(spikes, initial_state)


def check_memory_states(value, name: str = "memory_states") -> int:
    """Returns `value` as an int, or raises if it is not an integer of at least 2."""
    if not is_integer(value) or value < 2:
        raise ValueError(
            f"`{name}` must be an integer of at least 2 (2: the XOR bit). "
            f"Received: {name}={value!r}"
        )
    return int(value)


def counter_scan(up_spikes, down_spikes, modulus: int, initial_state=None):
    """All states of a k-state memory: a count modulo k that spikes move up and down.

    The generalisation of `xor_scan` from Z_2 to Z_k. The memory of each unit
    is a vector `o` over the k counts (one-hot for a count), and a step is

    ```
    o_t = (1 - u)(1 - d) o + u (1 - d) roll(o, 1) + d (1 - u) roll(o, -1) + u d o
    ```

    with `o = o_{t-1}`, `u`, `d` the up and down spikes at t and `roll` along
    the k counts: an up spike adds one, a down spike takes one away, both
    together leave the count. For 0/1 spikes this is `o_{-1}` rotated by the
    net count `sum_{s <= t} (u_s - d_s)` modulo k, computed from a cumulative
    sum (exact while the net count stays under 2**24 in magnitude). The
    custom gradient is the exact derivative of the step-by-step formula: a
    reverse cumulative sum of the upstream gradients, each rotated back by
    its step's count.

    Args:
        up_spikes: Tensor `(batch, time, units)` of 0/1 values.
        down_spikes: Tensor `(batch, time, units)` of 0/1 values.
        modulus: Integer `k` of at least 2, the number of counts.
        initial_state: Optional tensor `(batch, k, units)`, `o_{-1}`: a
            distribution over the counts (one-hot for a count). None: every
            unit at count 0.

    Returns:
        A tensor `(batch, time, k, units)`, `o_0 ... o_{T-1}`.

    Examples:
        >>> up = keras.ops.convert_to_tensor([[[1.0], [1.0], [0.0], [1.0]]])
        >>> down = keras.ops.convert_to_tensor([[[0.0], [0.0], [1.0], [1.0]]])
        >>> memory = keras_hsru.ops.counter_scan(up, down, modulus=3)
        >>> keras.ops.convert_to_numpy(keras.ops.argmax(memory[0, :, :, 0], axis=-1)).tolist()
        [1, 2, 1, 1]
    """
    modulus = check_memory_states(modulus, "modulus")
    up_spikes = keras.ops.convert_to_tensor(up_spikes)
    _check_sequence("up_spikes", up_spikes)
    dtype = keras.backend.standardize_dtype(up_spikes.dtype)
    if not keras.backend.is_float_dtype(dtype):
        raise ValueError(f"`up_spikes` must be a floating point tensor. Received: dtype={dtype}")
    down_spikes = keras.ops.convert_to_tensor(down_spikes, dtype)
    check_shape("down_spikes", down_spikes, up_spikes.shape, "(batch, time, units)")
    initial_state = _initial_counts(initial_state, up_spikes, modulus)
    return _implementation().counter_scan(up_spikes, down_spikes, initial_state, modulus)


def _initial_counts(initial_state, spikes, modulus):
    """A k-state memory's checked `(batch, k, units)` start in the dtype of
    `spikes` (`(batch, time, ..., units)`); None: every unit at count 0."""
    batch, units = spikes.shape[0], spikes.shape[-1]
    if initial_state is None:
        initial_state = keras.ops.one_hot(
            keras.ops.zeros((keras.ops.shape(spikes)[0], units), "int32"), modulus, axis=1
        )
    initial_state = keras.ops.convert_to_tensor(initial_state, spikes.dtype)
    check_shape("initial_state", initial_state, (batch, modulus, units), "(batch, k, units)")
    return initial_state


def _checked_per_unit_and_states(
    current, dtype, decay, threshold, initial_potential, initial_memory
):
    """`decay`, `threshold` and the initial V and D (zeros where None) in the
    states' `dtype`, checked against the sequence `current`."""
    if initial_potential is None:
        initial_potential = keras.ops.zeros(keras.ops.shape(current[:, 0]), dtype)
    if initial_memory is None:
        initial_memory = keras.ops.zeros(keras.ops.shape(current[:, 0]), dtype)
    decay, threshold, initial_potential, initial_memory = (
        keras.ops.convert_to_tensor(t, dtype)
        for t in (decay, threshold, initial_potential, initial_memory)
    )
    for name, value in (("decay", decay), ("threshold", threshold)):
        _check_per_unit(name, value, current)
    _check_state("initial_potential", initial_potential, current)
    _check_state("initial_memory", initial_memory, current)
    return decay, threshold, initial_potential, initial_memory


def hybrid_scan(
    decay,
    current,
    threshold,
    slope: float | None = None,
    initial_potential=None,
    initial_memory=None,
    fused: bool | None = None,
    surrogate: "str | Surrogate" = "fast_sigmoid",
    readout_dtype: str | None = None,
    time_chunk_length: int | None = None,
):
    """The HSRU's analog and digital states for a whole sequence.

    Equivalent to
    `V = linear_scan(decay, current, V0)`,
    `D = xor_scan(spike(V - threshold, slope, surrogate), D0)`, gradients
    included.
    A fused path computes V, the spikes and D in a single pass over the
    sequence, and all their gradients in a single reverse pass:

    - torch with a CUDA device and Triton installed: two Triton kernels;
    - TensorFlow, and JAX on a CPU: one sequential scan forward, one reverse
      scan for the gradients;
    - JAX on a GPU: two Pallas kernels.

    By default (`fused=None`) the fused path is taken wherever it exists:
    torch on CUDA, TensorFlow in graphs on a CPU, and JAX on a CPU or a GPU
    (the docs' "How it works" has the table and the reasons).

    For mixed precision, `current` may be bfloat16 or float16 (the dtype of
    the input projection's matmul): V, D and every sum are still computed in
    float32. With `readout_dtype` the result also holds V and D in that
    dtype, for the readout's matmul; the GPU kernels read `current` and write
    those copies in their dtypes in the same pass, and read the copies'
    gradients and write `current`'s in them, instead of separate casts.

    With `time_chunk_length`, the sequence is cut into chunks of that many
    steps that are computed side by side: each chunk's starting V from the
    chunks' weighted input sums and a scan over the chunks, then the fused
    pass (or the composed ops) over every chunk at once, as `batch * chunks`
    rows, then each chunk's D from the parity carried over the chunks
    (`xor_scan`). The kernels then have `chunks` times as many programs to
    run in parallel, at the price of more memory traffic (the input is read
    once more for the chunks' sums, and D written once more); gradients are
    those of the step-by-step equations all the same.

    Args:
        decay: Tensor `(units,)`, the per-unit decay in (0, 1).
        current: Tensor `(batch, time, units)`, the input current `I`: float32
            or float64 (the states' dtype), or bfloat16 or float16 (float32 states).
        threshold: Tensor `(units,)`, the firing threshold.
        slope: Positive finite float, the surrogate's slope `k`; None where
            `surrogate` is a `Surrogate`, which carries its own.
        initial_potential: Optional `(batch, units)`, `V_{-1}`. Zeros if None.
        initial_memory: Optional `(batch, units)`, `D_{-1}`. Zeros if None.
        fused: `None` (the faster path here, see above), `True` (the fused
            path; a ValueError where this backend has none for the device,
            dtype or surrogate: `algorithm_table()` lists where each runs and
            what it takes) or
            `False` (the composed ops).
        surrogate: One of `SURROGATES` (see `spike`), or a `Surrogate` (name
            and slope in one value). Default: the paper's `"fast_sigmoid"`.
        readout_dtype: Optional floating point dtype name: also return V and D
            in it.
        time_chunk_length: Optional positive int: compute chunks of that many
            steps side by side (see above). None: the whole sequence as one.

    Returns:
        `(V, D)`, two tensors of shape `(batch, time, units)` in the states'
        dtype; with `readout_dtype`, `(V, D, V_readout, D_readout)`.

    Examples:
        >>> decay = keras.ops.convert_to_tensor([0.5])
        >>> current = keras.ops.convert_to_tensor([[[0.6], [0.0], [0.0], [1.0]]])
        >>> threshold = keras.ops.convert_to_tensor([0.2])
        >>> v, d = keras_hsru.ops.hybrid_scan(decay, current, threshold, slope=5.0)
        >>> [round(float(value), 4) for value in keras.ops.convert_to_numpy(v[0, :, 0])]
        [0.6, 0.3, 0.15, 1.075]
        >>> keras.ops.convert_to_numpy(d[0, :, 0]).tolist()  # spikes at t = 0, 1, 3
        [1.0, 0.0, 0.0, 1.0]
    """
    surrogate = as_surrogate(surrogate, slope)
    if fused is not None:
        fused = check_bool("fused", fused)
    current = keras.ops.convert_to_tensor(current)
    _check_sequence("current", current)
    current_dtype = keras.backend.standardize_dtype(current.dtype)
    if not keras.backend.is_float_dtype(current_dtype):
        raise ValueError(
            f"`current` must be a floating point tensor. Received: dtype={current_dtype}"
        )
    if readout_dtype is not None:
        readout_dtype = keras.backend.standardize_dtype(readout_dtype)
        if not keras.backend.is_float_dtype(readout_dtype):
            raise ValueError(
                "`readout_dtype` must be a floating point dtype or None. "
                f"Received: readout_dtype={readout_dtype!r}"
            )
    dtype = "float32" if current_dtype in HALF_DTYPES else current_dtype
    decay, threshold, initial_potential, initial_memory = _checked_per_unit_and_states(
        current, dtype, decay, threshold, initial_potential, initial_memory
    )
    states = None
    if time_chunk_length is not None:
        time_chunk_length = check_positive_int("time_chunk_length", time_chunk_length)
        length = current.shape[1]
        if isinstance(length, int) and length > time_chunk_length:
            states = _time_chunked_hybrid_scan(
                decay, current, threshold, surrogate, initial_potential, initial_memory,
                fused, time_chunk_length,
            )  # fmt: skip
    if states is None and fused is not False:
        # A backend returns (V, D), or (V, D, V_readout, D_readout) where its
        # kernels wrote the copies themselves.
        states = _implementation().fused_hybrid_scan(
            decay,
            current,
            threshold,
            surrogate,
            initial_potential,
            initial_memory,
            force=bool(fused),
            readout_dtype=readout_dtype,
        )
    if states is None:
        current = keras.ops.cast(current, dtype)
        potential = linear_scan(decay, current, initial_potential)
        spikes = _implementation().spike(potential - threshold, surrogate)
        memory = xor_scan(spikes, initial_memory)
        states = (potential, memory)
    if readout_dtype is not None and len(states) == 2:
        states = (*states, *(keras.ops.cast(state, readout_dtype) for state in states))
    return tuple(states)


def pallas_hybrid_scan(
    decay,
    current,
    threshold,
    slope: float,
    initial_potential=None,
    initial_memory=None,
    unroll: int = 16,
    block_units: int = 32,
    interpret: bool = False,
):
    """JAX: `hybrid_scan`'s Pallas kernels (the GPU's fused path) with a chosen tiling.

    `hybrid_scan` runs these kernels on a JAX GPU with the defaults here;
    this runs them with other settings, for tuning them to a GPU
    (`benchmarks/pallas_kernel.py` times each setting). Each program of the
    kernels owns one batch row and a block of units, and walks time
    sequentially, loading `unroll` steps' rows before it uses the first.
    The surrogate is the fast sigmoid, as in the GPU's fused path.

    Args:
        decay: Tensor `(units,)`, the per-unit decay in (0, 1).
        current: Tensor `(batch, time, units)`: float32, bfloat16 or float16
            (V, D and every sum are float32).
        threshold: Tensor `(units,)`, the firing threshold.
        slope: Positive finite float, the surrogate's slope `k`.
        initial_potential: Optional `(batch, units)`, `V_{-1}`. Zeros if None.
        initial_memory: Optional `(batch, units)`, `D_{-1}`. Zeros if None.
        unroll: Positive integer, the steps loaded per iteration of the
            kernels' loops over time. Default: `16`.
        block_units: Power of two, the most units a program owns (the
            largest power of two up to it that divides the units).
            Default: `32`.
        interpret: Whether to run the kernels in Pallas' interpreter, on any
            device (the tests check them on CPUs that way). Default: `False`,
            a GPU compiles them.

    Returns:
        `(V, D)`, two float32 tensors of shape `(batch, time, units)`, the
        same as `hybrid_scan`'s.

    Examples:
        >>> if keras.backend.backend() == "jax":
        ...     v, d = keras_hsru.ops.pallas_hybrid_scan(
        ...         [0.5], [[[0.6], [0.0], [1.0]]], [0.2], 5.0, unroll=2, interpret=True
        ...     )
        ...     print(keras.ops.convert_to_numpy(d[0, :, 0]).tolist())
        ... else:
        ...     print([1.0, 0.0, 1.0])
        [1.0, 0.0, 1.0]
    """
    if _BACKEND != "jax":
        raise ValueError(
            "pallas_hybrid_scan runs JAX's Pallas kernels; use hybrid_scan on other "
            f"backends. Received: backend={_BACKEND!r}"
        )
    slope = check_slope(slope)
    unroll = check_positive_int("unroll", unroll)
    block_units = check_positive_int("block_units", block_units)
    if block_units & (block_units - 1):
        raise ValueError(
            f"`block_units` must be a power of two. Received: block_units={block_units!r}"
        )
    interpret = check_bool("interpret", interpret)
    current = keras.ops.convert_to_tensor(current)
    _check_sequence("current", current)
    current_dtype = keras.backend.standardize_dtype(current.dtype)
    if current_dtype not in ("float32", *HALF_DTYPES):
        raise ValueError(
            f"`current` must be float32, bfloat16 or float16. Received: dtype={current_dtype}"
        )
    decay, threshold, initial_potential, initial_memory = _checked_per_unit_and_states(
        current, "float32", decay, threshold, initial_potential, initial_memory
    )
    from keras_hsru.ops import _pallas

    return _pallas.hybrid_scan(
        decay,
        current,
        threshold,
        slope,
        initial_potential,
        initial_memory,
        interpret,
        None,
        unroll,
        block_units,
    )


def _time_chunked_hybrid_scan(
    decay, current, threshold, surrogate, initial_potential, initial_memory, fused, chunk
):
    """`hybrid_scan` over chunks of `chunk` steps side by side (see its docstring)."""
    ops = keras.ops
    batch, length, units = current.shape
    dtype = decay.dtype
    chunks = -(-length // chunk)
    # Zero steps at the end: they come after every real step, which they cannot change.
    padding = chunks * chunk - length
    padded = current if padding == 0 else ops.pad(current, [[0, 0], [0, padding], [0, 0]])
    blocks = ops.reshape(padded, (batch, chunks, chunk, units))
    # V at each chunk's end from a zero start is sum_k alpha^(chunk-1-k) I_k:
    # products of the decay only, never their inverses.
    exponents = ops.cast(ops.arange(chunk - 1, -1, -1), dtype)
    powers = ops.power(ops.expand_dims(decay, 0), ops.expand_dims(exponents, 1))
    local_ends = ops.sum(ops.cast(blocks, dtype) * powers, axis=2)
    ends = linear_scan(ops.power(decay, float(chunk)), local_ends, initial_potential)
    starts = ops.concatenate([ops.expand_dims(initial_potential, 1), ends[:, :-1]], axis=1)
    potential, parity = hybrid_scan(
        decay,
        ops.reshape(padded, (batch * chunks, chunk, units)),
        threshold,
        surrogate.slope,
        ops.reshape(starts, (batch * chunks, units)),
        ops.zeros((batch * chunks, units), dtype),
        fused=fused,
        surrogate=surrogate.name,
    )
    # D_t = D_before XOR (the chunk's spike parity up to t), by the step's own
    # formula, so that the gradient is the step-by-step one; D_before carries
    # over the chunks as the memory of their parities.
    parity = ops.reshape(parity, (batch, chunks, chunk, units))
    after = xor_scan(parity[:, :, -1], initial_memory)
    before = ops.concatenate([ops.expand_dims(initial_memory, 1), after[:, :-1]], axis=1)
    before = ops.expand_dims(before, 2)
    memory = before * (1 - 2 * parity) + parity
    potential = ops.reshape(potential, (batch, chunks * chunk, units))[:, :length]
    memory = ops.reshape(memory, (batch, chunks * chunk, units))[:, :length]
    return potential, memory


def scan_in_chunks(fn, carry, sequences, chunk_length: int):
    """Runs `carry, outputs = fn(carry, chunk)` over consecutive time chunks.

    Like `keras.ops.scan` over chunks of `chunk_length` steps instead of single
    steps, in order: the first chunk holds 1 to `chunk_length` steps, every
    later one exactly `chunk_length`, and each chunk is read where it lies in
    `sequences` (no time-major copy). Differentiable.

    Args:
        fn: Callable `(carry, chunk) -> (carry, outputs)`. `chunk` is a
            `(batch, steps, features)` slice of `sequences`; `outputs` is
            `(batch, steps, units)` for every chunk, or None for every chunk.
            The carry keeps its structure, shapes and dtypes.
        carry: The initial carry, a tensor or a nest of tensors.
        sequences: Tensor `(batch, time, features)` with at least one step.
        chunk_length: Positive int, the steps per chunk.

    Returns:
        `(carry, outputs)`: the carry after the last chunk, and the chunks'
        outputs joined along time `(batch, time, units)`, or None.

    Examples:
        >>> def running_sum(total, chunk):
        ...     sums = keras.ops.cumsum(chunk, axis=1) + total[:, None]
        ...     return sums[:, -1], sums
        >>> x = keras.ops.ones((2, 10, 3))
        >>> total, sums = keras_hsru.ops.scan_in_chunks(running_sum, keras.ops.zeros((2, 3)), x, 4)
        >>> keras.ops.convert_to_numpy(sums[0, :, 0]).tolist()
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    """
    if not callable(fn):
        raise ValueError(f"`fn` must be callable. Received: fn={fn!r}")
    chunk_length = check_positive_int("chunk_length", chunk_length)
    sequences = keras.ops.convert_to_tensor(sequences)
    _check_sequence("sequences", sequences)
    if sequences.shape[1] == 0:
        raise ValueError(
            "`sequences` must have at least one time step. "
            f"Received: sequences.shape={tuple(sequences.shape)}"
        )
    return _implementation().scan_in_chunks(fn, carry, sequences, chunk_length)


def inference_chunk_length() -> int | None:
    """Steps per chunk for a whole-sequence forward pass without gradients.

    Where that is the faster, a layer computes such a forward pass chunk by
    chunk (`scan_in_chunks`, projections and readout included) instead of
    over the whole sequence at once: on JAX on a CPU and in TensorFlow graphs
    (without XLA) on a CPU, where sequence-sized temporaries cost page faults
    on every call. Elsewhere None: the whole sequence at once.

    Returns:
        A positive int, or None.

    Examples:
        >>> keras_hsru.ops.inference_chunk_length() in (None, 128)
        True
    """
    return _implementation().inference_chunk_length()


def right_padded_branch() -> bool:
    """Whether a masked call here tells sequences padded at the end from other masks.

    Where True, a layer's masked call branches at run time: a mask whose
    rows are unmasked steps then masked ones (padding at the end, the common
    case) takes the unmasked scan, fused where there is a fused path, since a
    padding step comes after every step that is read; other masks take the
    masked scan. Where the branch costs more than it saves (JAX's `lax.cond`
    on a CPU) every mask takes the masked scan. `keras_hsru/ops/_algorithms.py`
    decides, by what was measured (`benchmarks/masking.py`).

    Returns:
        A bool.

    Examples:
        >>> keras_hsru.ops.right_padded_branch() in (True, False)
        True
    """
    return _implementation().right_padded_branch()


IMPLEMENTATIONS = _algorithms.IMPLEMENTATIONS
Plan = _algorithms.Plan


def plan_call(
    implementation: str = "auto",
    *,
    xor_bit: bool = True,
    masked: bool = False,
    training: bool = False,
) -> Plan:
    """What an HSRU layer's call runs here: the one place that decides it.

    `HSRU` and `AttentiveHSRU` ask this on every call, from their
    `implementation` argument and the call, and do what the `Plan` says;
    which algorithm each backend and device has is `algorithm_table()`.

    Args:
        implementation: One of `IMPLEMENTATIONS`, as the layers take it:
            `"auto"`, `"fused"` (forced: a ValueError at run time where no
            fused path takes the call), `"scan"` or `"loop"`.
        xor_bit: Whether the digital memory is the paper's XOR bit (the
            only memory the fused paths compute).
        masked: Whether the call has a mask.
        training: Whether the call trains.

    Returns:
        A `Plan`: `step_loop`, `fused` (what `hybrid_scan` is asked),
        `mask_route` and `forward_chunk_length`.

    Examples:
        >>> plan = keras_hsru.ops.plan_call("scan", masked=True)
        >>> plan.fused, plan.mask_route in ("masked scan", "right-padded branch")
        (False, True)
    """
    check_choice("implementation", implementation, IMPLEMENTATIONS)
    return _algorithms.plan(
        implementation,
        check_bool("xor_bit", xor_bit),
        check_bool("masked", masked),
        check_bool("training", training),
        inference_chunk_length(),
        right_padded_branch(),
        fixed_length_trace(),
    )


def tanh_dense(inputs, kernels, bias):
    """The readout `tanh(sum_i inputs_i @ kernels_i + bias)`.

    Each input meets its own kernel and the products are summed: the matmul
    of the inputs concatenated along their last axis, without writing that
    copy. On torch the bias and the sum ride in `addmm`'s accumulator and
    tanh runs in place; JAX and TensorFlow compile the same from keras ops.

    Args:
        inputs: A non-empty list of tensors `(..., features_i)` with the same
            leading shape.
        kernels: A list of as many tensors `(features_i, units)`.
        bias: A tensor `(units,)`.

    Returns:
        A tensor `(..., units)`.

    Examples:
        >>> x = keras.ops.ones((2, 3, 4))
        >>> kernel = keras.ops.full((4, 1), 0.25)
        >>> y = keras_hsru.ops.tanh_dense([x, x], [kernel, kernel], keras.ops.zeros((1,)))
        >>> [round(float(v), 4) for v in keras.ops.convert_to_numpy(y[0, :, 0])]
        [0.964, 0.964, 0.964]
    """
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise ValueError(f"`inputs` must be a non-empty list of tensors. Received: {inputs!r}")
    if not isinstance(kernels, (list, tuple)) or len(kernels) != len(inputs):
        raise ValueError(
            f"`kernels` must be a list of {len(inputs)} tensors, one per input. "
            f"Received: {len(kernels) if isinstance(kernels, (list, tuple)) else kernels!r}"
        )
    inputs = [keras.ops.convert_to_tensor(x) for x in inputs]
    kernels = [keras.ops.convert_to_tensor(k) for k in kernels]
    bias = keras.ops.convert_to_tensor(bias)
    units = bias.shape[-1]
    for index, (x, kernel) in enumerate(zip(inputs, kernels)):
        if tuple(kernel.shape) != (x.shape[-1], units):
            raise ValueError(
                f"`kernels[{index}]` must have shape (features, units) = "
                f"{(x.shape[-1], units)}. Received: shape={tuple(kernel.shape)}"
            )
    return _implementation().tanh_dense(inputs, kernels, bias)


def matmul_rows(x, kernel):
    """`x @ kernel` over the last axis of `x`, computed as one 2D matmul.

    A rank-3 matmul's kernel gradient is a contraction over two axes, which
    the backends compute more slowly than one 2D matmul over the flattened
    `(batch * time, features)` rows; the layers' projections use this.

    Args:
        x: A tensor `(..., features)`.
        kernel: A tensor `(features, units)`.

    Returns:
        A tensor `(..., units)`.

    Examples:
        >>> x = keras.ops.ones((2, 3, 4))
        >>> y = keras_hsru.ops.matmul_rows(x, keras.ops.full((4, 5), 0.5))
        >>> tuple(y.shape), float(y[0, 0, 0])
        ((2, 3, 5), 2.0)
    """
    x = keras.ops.convert_to_tensor(x)
    kernel = keras.ops.convert_to_tensor(kernel)
    if len(kernel.shape) != 2 or len(x.shape) < 1 or x.shape[-1] != kernel.shape[0]:
        raise ValueError(
            "`kernel` must have shape (features, units) with the last axis of `x` as "
            f"features. Received: x.shape={tuple(x.shape)}, kernel.shape={tuple(kernel.shape)}"
        )
    return matmul_rows_unchecked(x, kernel)


def algorithm_table() -> str:
    """The Markdown table of which algorithm computes HSRU's scans where.

    One row per backend and device the docs describe ("How it works" shows
    it): the scan of V, the fused path for V, the spikes and D, the chunk
    length of a forward pass without training, and why. The choices
    themselves are made in one place, `keras_hsru/ops/_algorithms.py`.

    Returns:
        The table as a string of Markdown lines.

    Examples:
        >>> print(keras_hsru.ops.algorithm_table().splitlines()[0])
        | backend | device | V scan | fused V, S, D | forward chunks | padded at the end | why |
    """
    return _algorithms.table()


def plan_table() -> str:
    """The Markdown table of what an HSRU layer's call runs, by its arguments.

    One row per `implementation`, memory and kind of call (training,
    `predict`, masked), written from the `Plan` that `plan_call` returns for
    it, with what depends on the backend and device named as a column of
    `algorithm_table()` ("How it works" shows both).

    Returns:
        The table as a string of Markdown lines.

    Examples:
        >>> print(keras_hsru.ops.plan_table().splitlines()[0])
        | `implementation` | memory | call | what runs |
    """
    return _algorithms.plan_table()


def fixed_length_trace() -> bool:
    """Whether the graph being traced now holds the sequence length as a constant.

    True under torch's tracer (`torch.jit.trace`, and `torch.onnx.export`,
    which keras' ONNX export on torch uses): the traced graph then computes
    sequences of the traced length only. JAX and TensorFlow trace the time
    axis symbolically: False.
    """
    return _implementation().fixed_length_trace()


__all__ = [
    "SURROGATES",
    "Surrogate",
    "as_surrogate",
    "spike",
    "linear_scan",
    "xor_scan",
    "counter_scan",
    "reset_counter_scan",
    "hybrid_scan",
    "scan_in_chunks",
    "inference_chunk_length",
    "right_padded_branch",
    "tanh_dense",
    "matmul_rows",
    "algorithm_table",
    "plan_table",
]
