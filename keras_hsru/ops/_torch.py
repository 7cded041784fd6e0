"""PyTorch implementations of the HSRU operations (native torch ops, any device)."""

import os

import torch

from keras_hsru.ops import _algorithms, _common


def _choice(device_type):
    """The algorithms for a torch device type (`_algorithms` decides)."""
    interpreter = os.environ.get("TRITON_INTERPRET") == "1"
    return _algorithms.choose(_algorithms.Place("torch", device_type, interpreter=interpreter))


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, surrogate):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, upstream):
        (x,) = ctx.saved_tensors
        surrogate = ctx.surrogate
        if surrogate.name == "fast_sigmoid":
            # In place on one fresh tensor: on a CPU each new full-size tensor
            # costs as much as the arithmetic.
            return upstream / x.abs().mul_(surrogate.slope).add_(1).square_(), None
        return surrogate.gradient(torch, upstream, x), None


def spike(x, surrogate):
    return _Spike.apply(x, surrogate)


def tanh_dense(inputs, kernels, bias):
    """`tanh(sum_i inputs_i @ kernels_i + bias)`: the bias and the sum ride in
    addmm's accumulator and tanh runs in place, so that eager torch writes one
    (rows, units) tensor instead of one per matmul, per addition and for tanh."""
    leading = inputs[0].shape[:-1]
    total = bias
    for x, kernel in zip(inputs, kernels):
        total = torch.addmm(total, x.reshape(-1, x.shape[-1]), kernel)
    # addmm's backward does not need its result, so tanh may overwrite it.
    return total.tanh_().reshape(*leading, total.shape[-1])


def _pass_slices(shift, reverse):
    """The doubling pass at `shift`: the steps it updates (head), the steps `shift`
    away that they fold in (tail), and the steps it keeps as they are."""
    if reverse:
        return slice(None, -shift), slice(shift, None), slice(-shift, None)
    return slice(shift, None), slice(None, -shift), slice(None, shift)


def _scan(decay, inputs, reverse):
    """h_t = decay_t * h_{t-1} + inputs_t along dim 1 (h_{t+1} if reverse), from zero.

    Hillis-Steele doubling: ceil(log2 L) vectorized passes, each step folding in
    the partial sum `shift` steps away. Powers of the decay only shrink, so this
    is safe at any length. Each pass writes one fused multiply-add into a second
    buffer (the two swap roles) rather than cloning the states and adding: on
    a CPU, fresh full-size tensors cost as much as the arithmetic.
    """
    length = inputs.shape[1]
    constant = decay.dim() == 1
    if fixed_length_trace():
        return _traceable_scan(decay, inputs, reverse)
    states, spare = inputs.clone(), torch.empty_like(inputs)
    if not constant:
        decay, spare_decay = decay.clone(), torch.empty_like(decay)
    shift = 1
    while shift < length:
        head, tail, kept = _pass_slices(shift, reverse)
        step_decay = decay if constant else decay[:, head]
        spare[:, kept] = states[:, kept]
        torch.addcmul(states[:, head], step_decay, states[:, tail], out=spare[:, head])
        states, spare = spare, states
        if shift * 2 < length:
            if constant:
                decay = decay * decay
            else:
                spare_decay[:, kept] = decay[:, kept]
                torch.mul(decay[:, head], decay[:, tail], out=spare_decay[:, head])
                decay, spare_decay = spare_decay, decay
        shift *= 2
    return states


def _traceable_scan(decay, inputs, reverse):
    """`_scan` without writes into slices of another tensor (`out=`), which
    torch's tracer does not record: the same passes, each a new tensor."""
    length = inputs.shape[1]
    constant = decay.dim() == 1
    states, shift = inputs, 1
    while shift < length:
        head, tail, kept = _pass_slices(shift, reverse)
        step_decay = decay if constant else decay[:, head]
        moved = states[:, head] + step_decay * states[:, tail]
        parts = [moved, states[:, kept]] if reverse else [states[:, kept], moved]
        states = torch.cat(parts, dim=1)
        if shift * 2 < length:
            if constant:
                decay = decay * decay
            else:
                moved = decay[:, head] * decay[:, tail]
                parts = [moved, decay[:, kept]] if reverse else [decay[:, kept], moved]
                decay = torch.cat(parts, dim=1)
        shift *= 2
    return states


CHUNK = 64


def _chunked_scan(decay, inputs, reverse=False):
    """Scan for a constant per-unit decay, as matmuls over chunks of CHUNK steps.

    Inside a chunk, h_t = sum_{s <= t} decay^(t - s) x_s is a lower-triangular
    matmul per unit (exponents t - s >= 0, so nothing overflows). The chunk
    ends then form a short recurrence with decay^CHUNK, scanned by doubling,
    and each chunk adds decay^(t + 1) times the state its predecessor ended in.
    The reverse scan is the forward scan of the time-reversed sequence.
    """
    if reverse:
        return torch.flip(_chunked_scan(decay, torch.flip(inputs, [1])), [1])
    batch, length, units = inputs.shape
    chunks = -(-length // CHUNK)
    padded = torch.nn.functional.pad(inputs, (0, 0, 0, chunks * CHUNK - length))
    steps = torch.arange(CHUNK, device=inputs.device, dtype=inputs.dtype)
    log_decay = torch.log(torch.clamp(decay, min=torch.finfo(decay.dtype).tiny))
    lags = steps[:, None] - steps[None, :]
    # (units, CHUNK, CHUNK): decay^(t - s) below the diagonal, 0 above.
    kernel = torch.exp(lags.clamp(min=0)[None] * log_decay[:, None, None])
    kernel = kernel * (lags >= 0)
    # (units, CHUNK, batch * chunks) layout so that each unit is one matmul.
    columns = padded.reshape(batch * chunks, CHUNK, units).permute(2, 1, 0)
    local = torch.bmm(kernel, columns).permute(2, 1, 0).reshape(batch, chunks, CHUNK, units)
    ends = _scan(decay**CHUNK, local[:, :, -1].contiguous(), reverse=False)
    previous_ends = torch.nn.functional.pad(ends[:, :-1], (0, 0, 1, 0))
    growth = torch.exp((steps[:, None] + 1) * log_decay[None, :])  # decay^(t + 1)
    states = local + growth * previous_ends[:, :, None]
    return states.reshape(batch, chunks * CHUNK, units)[:, :length]


def _scan_sequence(decay, inputs, reverse):
    """The scan `_algorithms` takes for this device: the chunked matmul form
    (tensor cores, few passes over memory) for a constant decay longer than a
    chunk on CUDA, the doubling scan elsewhere."""
    chunked = _choice(inputs.device.type).scan == "chunked matmul"
    if chunked and decay.dim() == 1 and inputs.shape[1] > CHUNK:
        return _chunked_scan(decay, inputs, reverse)
    return _scan(decay, inputs, reverse)


def _first_decay(decay):
    return decay[:, 0] if decay.dim() == 3 else decay


class _LinearScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, decay, inputs, initial_state):
        inputs = inputs.clone()
        inputs[:, 0] += _first_decay(decay) * initial_state
        states = _scan_sequence(decay, inputs, reverse=False)
        ctx.save_for_backward(decay, states, initial_state)
        return states

    @staticmethod
    def backward(ctx, upstream):
        decay, states, initial_state = ctx.saved_tensors
        if decay.dim() == 3:
            # The adjoint at t is carried back by the decay of step t + 1.
            next_decay = torch.cat([decay[:, 1:], torch.zeros_like(decay[:, :1])], 1)
        else:
            next_decay = decay
        adjoint = _scan_sequence(next_decay, upstream.contiguous(), reverse=True)
        previous = torch.cat([initial_state[:, None], states[:, :-1]], 1)
        grad_decay = adjoint * previous
        if decay.dim() == 1:
            grad_decay = grad_decay.sum(dim=(0, 1))
        return grad_decay, adjoint, _first_decay(decay) * adjoint[:, 0]


def linear_scan(decay, inputs, initial_state):
    return _LinearScan.apply(decay, inputs, initial_state)


class _XorScan(torch.autograd.Function):
    # D_t = D_{-1} XOR parity_t = parity_t + Q_t D_{-1}, with the sign
    # Q_t = 1 - 2 parity_t = (-1) ** (spikes up to t) (exact for up to 2**24
    # steps). Element-wise steps run in place on the few tensors they create.

    @staticmethod
    def forward(ctx, spikes, initial_state):
        parity = torch.cumsum(spikes, dim=1).remainder_(2)
        sign = parity.mul(-2).add_(1)
        memory = parity.addcmul_(sign, initial_state[:, None])
        ctx.save_for_backward(spikes, sign, initial_state)
        return memory

    @staticmethod
    def backward(ctx, upstream):
        spikes, sign, initial_state = ctx.saved_tensors
        signed = upstream * sign
        grad_initial = signed.sum(dim=1)
        # g_u (1 - 2 D_u), where 1 - 2 D_u = Q_u (1 - 2 D_{-1}).
        weighted = signed.mul_((1 - 2 * initial_state)[:, None])
        carried = torch.flip(weighted, [1]).cumsum_(1).flip(1)
        # dL/dS_t = (1 - 2 S_t) * sum_{u >= t} g_u (1 - 2 D_u)
        return carried.addcmul_(spikes, carried, value=-2), grad_initial


def xor_scan(spikes, initial_state):
    return _XorScan.apply(spikes, initial_state)


def _cumulative_sum(x, reverse):
    return torch.flip(x, [1]).cumsum_(1).flip(1) if reverse else torch.cumsum(x, dim=1)


class _CounterScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, up, down, initial_state, modulus):
        memory, counts = _common.counter_forward(up, down, initial_state, modulus, _cumulative_sum)
        ctx.save_for_backward(up, down, initial_state, memory, counts)
        ctx.modulus = modulus
        return memory

    @staticmethod
    def backward(ctx, upstream):
        grads = _common.counter_backward(
            *ctx.saved_tensors, upstream.contiguous(), ctx.modulus, _cumulative_sum
        )
        return (*grads, None)


def counter_scan(up, down, initial_state, modulus):
    return _CounterScan.apply(up, down, initial_state, modulus)


class _ResetCounterScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, moves, resets, initial_state, modulus):
        memory, counts = _common.reset_counter_forward(
            moves, resets, initial_state, modulus, _cumulative_sum, _scan
        )
        ctx.save_for_backward(moves, resets, initial_state, memory, counts)
        ctx.modulus = modulus
        return memory

    @staticmethod
    def backward(ctx, upstream):
        grads = _common.reset_counter_backward(
            *ctx.saved_tensors, upstream.contiguous(), ctx.modulus, _scan
        )
        return (*grads, None)


def reset_counter_scan(moves, resets, initial_state, modulus):
    return _ResetCounterScan.apply(moves, resets, initial_state, modulus)


def scan_in_chunks(fn, carry, sequences, chunk_length):
    """`carry, outputs = fn(carry, chunk)` over consecutive time chunks of the
    (batch, time, features) `sequences`; outputs (or None) joined along time."""
    length = sequences.shape[1]
    head = _common.head_length(length, chunk_length)
    # The first chunk holds 1 to `chunk_length` steps, the rest whole chunks.
    starts = [0, *range(head, length, chunk_length)]
    pieces = []
    for start, end in zip(starts, [*starts[1:], length]):
        carry, outputs = fn(carry, sequences[:, start:end])
        pieces.append(outputs)
    if pieces[0] is None:
        return carry, None
    return carry, torch.cat(pieces, dim=1)


def inference_chunk_length():
    # keras places torch tensors on CUDA where there is one.
    return _choice("cuda" if torch.cuda.is_available() else "cpu").inference_chunk_length


def right_padded_branch():
    return _choice("cuda" if torch.cuda.is_available() else "cpu").right_padded_branch


def fixed_length_trace():
    # The tracer records the Python loops over time for the traced length.
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()


def _fused_kernels():
    """The Triton kernels module, or None where Triton is not installed."""
    try:
        from keras_hsru.ops import _triton
    except ImportError:  # no Triton installed: the composed ops serve
        return None
    return _triton


class _HybridScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, decay, current, threshold, potential0, memory0, kernels, slope, readout_dtype):
        args = [t.contiguous() for t in (decay, threshold, potential0, memory0)]
        outputs = kernels.forward(current.contiguous(), *args, readout_dtype)
        ctx.save_for_backward(*outputs[:2], *args)
        ctx.kernels, ctx.slope, ctx.current_dtype = kernels, slope, current.dtype
        return outputs

    @staticmethod
    def backward(ctx, *grads):
        potential, memory, decay, threshold, potential0, memory0 = ctx.saved_tensors

        def pair(first, second):
            # A pair neither of whose outputs was used is not read at all.
            if first is None and second is None:
                return None
            return tuple(
                torch.zeros_like(potential) if g is None else g.contiguous()
                for g in (first, second)
            )

        g_current, g_decay, g_threshold, g_potential0, g_memory0 = ctx.kernels.backward(
            pair(*grads[:2]),
            pair(*grads[2:]) if len(grads) == 4 else None,
            potential, memory, decay, threshold, potential0, memory0, ctx.slope,
            ctx.current_dtype,
        )  # fmt: skip
        return g_decay, g_current, g_threshold, g_potential0, g_memory0, None, None, None


def fused_hybrid_scan(
    decay, current, threshold, surrogate, potential0, memory0, force=False, readout_dtype=None,
):  # fmt: skip
    """V and D in one fused Triton pass where `_algorithms` takes it (CUDA, or
    any device under Triton's interpreter, TRITON_INTERPRET=1, which the tests
    use on a CPU); None where it does not apply (a ValueError if `force`).
    The kernels read a bfloat16 or float16 `current` as it is and, with a
    `readout_dtype`, also write V and D in it: `(V, D, V_readout, D_readout)`.
    """
    choice = _choice(current.device.type)
    kernels = _fused_kernels() if choice.fused == "triton" else None
    dtype = str(current.dtype).removeprefix("torch.")
    if kernels is None or decay.dim() != 1 or not choice.fused_takes(dtype, surrogate.name):
        if force:
            raise ValueError(
                "The fused HSRU kernels on torch need a CUDA device, Triton, float32, bfloat16 "
                "or float16 sequences and the fast sigmoid surrogate. Received: "
                f"device={current.device}, dtype={current.dtype}, surrogate={surrogate.name!r}, "
                f"Triton {'installed' if _fused_kernels() else 'not installed'}"
            )
        return None
    if readout_dtype is not None:
        readout_dtype = getattr(torch, readout_dtype)
    return _HybridScan.apply(
        decay, current, threshold, potential0, memory0, kernels, surrogate.slope, readout_dtype
    )
