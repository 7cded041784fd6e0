"""Arithmetic the backend modules share, written once over an array namespace.

`xp` is the backend's NumPy-like namespace (`jax.numpy`, `tensorflow`,
`torch`): each has `where`, `square`, `abs`, `exp` and `maximum` with NumPy's
meaning.
"""

import dataclasses
import math

import keras

from keras_hsru._validation import check_choice, check_positive_finite

# The spike's surrogate derivatives dS/dx at x = V - threshold, each with its slope k.
SURROGATES = ("fast_sigmoid", "sigmoid", "triangle", "arctan")


@keras.saving.register_keras_serializable(package="keras_hsru")
@dataclasses.dataclass(frozen=True)
class Surrogate:
    """The spike's surrogate gradient as one value: its shape and its slope.

    The forward pass of a spike is the Heaviside step; its backward pass
    multiplies the upstream gradient by the surrogate derivative `dS/dx` at
    `x = V - threshold` (see `gradient` for the formulas). Layers and ops take
    it as `surrogate=Surrogate(name, slope)` (or a name and a separate
    slope); it is hashable, so that JAX takes it as a static argument, and
    serialisable with `keras.saving.serialize_keras_object`.

    Args:
        name: One of `keras_hsru.ops.SURROGATES`: `"fast_sigmoid"` (the
            paper's), `"sigmoid"`, `"triangle"` or `"arctan"`.
        slope: Positive finite float `k`, the steepness. Default: `5.0`
            (the HSRU layers' default).

    Examples:
        >>> surrogate = keras_hsru.ops.Surrogate("arctan", slope=2.0)
        >>> surrogate.get_config()
        {'name': 'arctan', 'slope': 2.0}
        >>> layer = keras_hsru.HSRU(8, surrogate=surrogate)
        >>> layer.surrogate, layer.surrogate_slope
        ('arctan', 2.0)
    """

    name: str = "fast_sigmoid"
    slope: float = 5.0

    def __post_init__(self):
        check_choice("surrogate", self.name, SURROGATES)
        object.__setattr__(self, "slope", check_positive_finite("surrogate_slope", self.slope))

    def get_config(self) -> dict:
        return {"name": self.name, "slope": self.slope}

    @classmethod
    def from_config(cls, config: dict) -> "Surrogate":
        return cls(**config)

    def gradient(self, xp, upstream, x):
        """`upstream * dS/dx` at `x = V - threshold`, with k the slope:

        - `"fast_sigmoid"` (the paper's): 1 / (1 + k|x|)^2, the derivative of
          x / (1 + k|x|); at most 1;
        - `"sigmoid"`: the logistic's derivative, k s(kx) (1 - s(kx)); at most k/4;
        - `"triangle"`: max(0, 1 - k|x|); at most 1, zero beyond |x| = 1/k;
        - `"arctan"`: (k/2) / (1 + (pi k x / 2)^2), the derivative of
          arctan(pi k x / 2) / pi; at most k/2.
        """
        slope = self.slope
        if self.name == "fast_sigmoid":
            # A division, as the paper's formula reads (the results of earlier
            # releases, bit for bit).
            return upstream / xp.square(1 + slope * xp.abs(x))
        if self.name == "sigmoid":
            # k e / (1 + e)^2 with e = exp(-k|x|): s (1 - s) without the
            # cancellation of 1 - s in float32 where s is near 1.
            tail = xp.exp(-slope * xp.abs(x))
            return upstream * (slope * tail / xp.square(1 + tail))
        if self.name == "triangle":
            return upstream * xp.maximum(1 - slope * xp.abs(x), 0 * x)
        # "arctan", the last of SURROGATES (a name is checked when a Surrogate is made).
        return upstream * ((slope / 2) / (1 + xp.square((math.pi / 2) * slope * x)))


def head_length(length, chunk_length):
    """The first chunk's length, 1 to `chunk_length`, so that the rest is whole
    chunks: no chunk needs padding, and the last chunk ends the sequence,
    where the final carry is read. `length` may be a Python int or a tensor."""
    return length - chunk_length * ((length - 1) // chunk_length)


def fused_forward_step(xp, decay, threshold, potential, memory, current_t):
    """One step of V and D: V_t = alpha V_{t-1} + I_t, then D_t = D_{t-1} XOR S_t,
    written so that it also holds for a D_{-1} between 0 and 1."""
    potential = decay * potential + current_t
    memory = xp.where(potential > threshold, 1 - memory, memory)
    return potential, memory


def fused_backward_step(xp, decay, threshold, surrogate, carry, elems_t):
    """One step back in time of the adjoints of the step-by-step recurrence.

    With lV, lD the adjoints of V_t, D_t, s the `surrogate` (a `Surrogate`) and
    (1 - 2 D_{t-1}) = (1 - 2 D_t)(1 - 2 S_t) (D_t is D_{t-1} XOR S_t):
    lD_t = gD_t + lD_{t+1} (1 - 2 S_{t+1}),   lS_t = lD_t (1 - 2 D_{t-1}),
    lV_t = gV_t + lS_t s(V_t - theta) + alpha lV_{t+1}.

    `carry` is `(lV_{t+1}, lD_{t+1} (1 - 2 S_{t+1}), sum of lS s, sum of
    lV_{u+1} V_u)` over the steps after t: theta's and alpha's gradients need
    only these sums over time, carried rather than stacked, so no shifted copy
    of V is built. `elems_t` is `(gV_t, gD_t, V_t, D_t)`. Returns the carry for
    step t - 1; its first element is lV_t.
    """
    adjoint_v, carried_d, through_spike_sum, decay_sum = carry
    grad_v_t, grad_d_t, potential_t, memory_t = elems_t
    # lV_{t+1} V_t, before lV moves to step t.
    decay_sum = decay_sum + adjoint_v * potential_t
    distance = potential_t - threshold
    adjoint_d = grad_d_t + carried_d
    # lD_t (1 - 2 S_t): carried to step t - 1.
    carried_d = xp.where(distance > 0, -adjoint_d, adjoint_d)
    through_spike = surrogate.gradient(xp, carried_d * (1 - 2 * memory_t), distance)
    adjoint_v = grad_v_t + through_spike + decay * adjoint_v
    return adjoint_v, carried_d, through_spike_sum + through_spike, decay_sum


def matmul_rows(x, kernel):
    """`x @ kernel` for `x` of shape `(..., rows)`, computed as one 2D matmul.

    A rank-3 matmul's kernel gradient is a contraction over two axes, which
    the backends compute more slowly than the one 2D matmul over the
    flattened (batch * time, rows).
    """
    ops = keras.ops
    symbolic = any(d is not None and not isinstance(d, int) for d in x.shape[:-1])
    if len(x.shape) == 2 or symbolic:
        # Symbolic dimensions (JAX's shape polymorphism, as exporters trace a
        # None axis): the rank-3 matmul, which converts without a reshape to
        # sizes computed from them (jax2onnx has none).
        return ops.matmul(x, kernel)
    leading = ops.shape(x)[:-1]
    product = ops.matmul(ops.reshape(x, (-1, x.shape[-1])), kernel)
    return ops.reshape(product, (*leading, kernel.shape[-1]))


def tanh_dense(inputs, kernels, bias):
    """`tanh(sum_i inputs_i @ kernels_i + bias)` by keras ops: the JAX and
    TensorFlow implementation of `keras_hsru.ops.tanh_dense`, whose compilers
    fuse the bias and the activation into the matmul themselves."""
    ops = keras.ops
    if len(inputs) == 1:
        return ops.tanh(matmul_rows(inputs[0], kernels[0]) + bias)
    total = bias
    for x, kernel in zip(inputs, kernels):
        total = total + matmul_rows(x, kernel)
    return ops.tanh(total)


def rotate(memory, counts, modulus):
    """`memory` rotated along axis -2 by `counts`: out[..., i, u] =
    memory[..., (i - n) mod k, u] with n = counts[..., u], an integer in
    0 .. k - 1 held as a float. `memory` is `(batch, time or 1, k, units)`,
    `counts` `(batch, time, units)`. A sum over the k rotations, each kept
    where the count selects it: exact, and no gather."""
    ops = keras.ops
    rotated = 0
    for shift in range(modulus):
        selected = ops.expand_dims(ops.cast(ops.equal(counts, shift), memory.dtype), -2)
        rotated = rotated + selected * ops.roll(memory, shift, axis=-2)
    return rotated


def counter_forward(up, down, initial_state, modulus, cumulative_sum):
    """`(memory, counts)` of `keras_hsru.ops.counter_scan`: the net count of up
    minus down spikes modulo k at every step (exact while its magnitude stays
    under 2**24), and the initial distribution `(batch, k, units)` rotated by
    it, `(batch, time, k, units)`. `cumulative_sum(x, reverse)` sums along time."""
    counts = keras.ops.mod(cumulative_sum(up - down, False), modulus)
    return rotate(keras.ops.expand_dims(initial_state, 1), counts, modulus), counts


def counter_backward(up, down, initial_state, memory, counts, upstream, modulus, cumulative_sum):
    """The exact gradients of the step-by-step counter (`(up, down, initial_state)`).

    With P the rotation by one count, a step is o_t = A_t o_{t-1},
    A = (1 - u)(1 - d) + u (1 - d) P + d (1 - u) P^-1 + u d, a permutation
    for 0/1 spikes, so o_t = P^(n_t) o_{-1}. The adjoint of o_t is
    lambda_t = P^(n_t) nu_t with nu_t = sum_{u >= t} P^(-n_u) g_u, a reverse
    cumulative sum in the initial state's frame; nu_0 is the initial state's
    gradient. A spike's gradient is lambda_t . (dA_t/dS) o_{t-1}, where
    dA/du = (1 - d)(P - 1) + d (1 - P^-1) and dA/dd = (1 - u)(P^-1 - 1) + u (1 - P).
    """
    ops = keras.ops
    shape = ops.shape(upstream)
    back = rotate(upstream, ops.mod(-counts, modulus), modulus)
    # The last axis by its static size: batch and time may be unknown in a graph.
    flat = ops.reshape(back, (shape[0], shape[1], modulus * upstream.shape[-1]))
    frame = ops.reshape(cumulative_sum(flat, True), shape)
    adjoint = rotate(frame, counts, modulus)
    previous = ops.concatenate([ops.expand_dims(initial_state, 1), memory[:, :-1]], axis=1)
    stay = ops.sum(adjoint * previous, axis=-2)
    rise = ops.sum(adjoint * ops.roll(previous, 1, axis=-2), axis=-2)
    fall = ops.sum(adjoint * ops.roll(previous, -1, axis=-2), axis=-2)
    grad_up = (1 - down) * (rise - stay) + down * (stay - fall)
    grad_down = (1 - up) * (fall - stay) + up * (stay - rise)
    return grad_up, grad_down, frame[:, 0]


def _one_hot_counts(counts, modulus, dtype):
    """`(batch, time, k, units)`: 1 at each unit-step's count (0 .. k - 1, a float)."""
    ops = keras.ops
    levels = ops.reshape(ops.arange(modulus, dtype=dtype), (modulus, 1))
    return ops.cast(ops.equal(ops.expand_dims(counts, -2), levels), dtype)


def reset_counter_forward(moves, resets, initial_state, modulus, cumulative_sum, scan):
    """`(memory, counts)` of `keras_hsru.ops.reset_counter_scan`.

    With n_t the step's move (its move spikes added) and C_t their cumulative
    sum modulo k, the memory in the frame that turns with C,
    `f_t = roll(o_t, -C_t)`, is a linear recurrence:
    `f_t = (1 - r_t) f_{t-1} + r_t onehot(-C_{t-1})` (a reset puts the count at
    0, which is -C_{t-1} in the frame), and `o_t = roll(f_t, C_t)`: one scan
    over k channels per unit. `scan(decay, inputs, reverse)` is the backend's
    linear recurrence from zero; `counts` holds C.
    """
    ops = keras.ops
    dtype = moves.dtype
    steps = ops.sum(moves, axis=2)
    counts = ops.mod(cumulative_sum(steps, False), modulus)
    before = ops.concatenate([ops.zeros_like(counts[:, :1]), counts[:, :-1]], axis=1)
    keep = ops.expand_dims(1 - resets, 2)
    target = ops.expand_dims(resets, 2) * _one_hot_counts(ops.mod(-before, modulus), modulus, dtype)
    inputs = ops.concatenate(
        [target[:, :1] + keep[:, :1] * ops.expand_dims(initial_state, 1), target[:, 1:]], axis=1
    )
    shape = ops.shape(target)
    # The last axis by its static size: batch and time may be unknown in a graph.
    flat = (shape[0], shape[1], modulus * moves.shape[-1])
    decay = ops.reshape(ops.broadcast_to(keep, shape), flat)
    frame = ops.reshape(scan(decay, ops.reshape(inputs, flat), False), shape)
    return rotate(frame, counts, modulus), counts


def reset_counter_backward(moves, resets, initial_state, memory, counts, upstream, modulus, scan):
    """The exact gradients of the step-by-step reset counter (`(moves, resets, initial_state)`).

    A step is `e = (1 - r) o_{t-1} + r e_0`, then one rotation by a count per
    move spike, `e <- (1 - s_j) e + s_j P e`, so `o_t = P^(n_t) e` for 0/1
    spikes. The adjoint of o_t is `lambda_t = g_t + (1 - r_{t+1}) P^(-n_{t+1})
    lambda_{t+1}`, in the turning frame `mu_t = P^(-C_t) lambda_t` a reverse
    linear recurrence with decay `1 - r_{t+1}`. With `a_t = P^(-n_t) lambda_t`
    (the adjoint before the step's moves): `dL/dr_t = a_t . (e_0 - o_{t-1})`;
    `dL/ds_j = a_t . (P - 1) e` for s_j = 0, `a_t . (1 - P^-1) e` for s_j = 1
    (the other spikes of the step commute with it); `dL/do_{-1} = (1 - r_0) mu_0`.
    """
    ops = keras.ops
    shape = ops.shape(upstream)
    flat = (shape[0], shape[1], modulus * upstream.shape[-1])
    before = ops.concatenate([ops.zeros_like(counts[:, :1]), counts[:, :-1]], axis=1)
    keep = 1 - resets
    back = rotate(upstream, ops.mod(-counts, modulus), modulus)
    # The adjoint at t is carried back by the keep of step t + 1.
    next_keep = ops.concatenate([keep[:, 1:], ops.zeros_like(keep[:, :1])], axis=1)
    decay = ops.reshape(ops.broadcast_to(ops.expand_dims(next_keep, 2), shape), flat)
    frame = ops.reshape(scan(decay, ops.reshape(back, flat), True), shape)
    adjoint = rotate(frame, before, modulus)
    previous = ops.concatenate([ops.expand_dims(initial_state, 1), memory[:, :-1]], axis=1)
    reset = ops.expand_dims(resets, 2)
    # e_0 as a (k, 1) column: count 0 is the first of the k.
    first = ops.reshape(ops.cast(ops.equal(ops.arange(modulus), 0), upstream.dtype), (modulus, 1))
    entered = ops.expand_dims(keep, 2) * previous + reset * first
    stay = ops.expand_dims(ops.sum(adjoint * entered, axis=2), 2)
    rise = ops.expand_dims(ops.sum(ops.roll(adjoint, -1, axis=2) * entered, axis=2), 2)
    fall = ops.expand_dims(ops.sum(ops.roll(adjoint, 1, axis=2) * entered, axis=2), 2)
    grad_moves = (1 - moves) * (rise - stay) + moves * (stay - fall)
    grad_resets = adjoint[:, :, 0] - ops.sum(adjoint * previous, axis=2)
    return grad_moves, grad_resets, ops.expand_dims(keep[:, 0], 1) * frame[:, 0]
