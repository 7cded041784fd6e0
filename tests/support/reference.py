"""A float64 NumPy implementation of the HSRU paper's equations, forward and backward.

Independent of the package: plain step-by-step loops, with the analytic
surrogate gradient written out by hand (backpropagation through time).
"""

import numpy as np


def softplus(x):
    return np.logaddexp(0.0, x)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def surrogate(x, slope, name="fast_sigmoid"):
    """dS/dx of the spike's surrogate `name` at x = V - theta, written out by hand."""
    if name == "fast_sigmoid":
        return 1.0 / (1.0 + slope * np.abs(x)) ** 2
    if name == "sigmoid":
        return slope * sigmoid(slope * x) * (1 - sigmoid(slope * x))
    if name == "triangle":
        return np.maximum(0.0, 1.0 - slope * np.abs(x))
    if name == "arctan":
        return (slope / 2) / (1 + (np.pi / 2 * slope * x) ** 2)
    raise ValueError(name)


def potentials(x, w_in, b_in, tau, v0=None):
    """V for all steps: it does not depend on the threshold."""
    alpha = np.exp(-softplus(tau))
    batch, length, _ = x.shape
    v = np.zeros((batch, w_in.shape[1])) if v0 is None else np.asarray(v0, np.float64)
    out = np.zeros((batch, length, w_in.shape[1]))
    for t in range(length):
        v = alpha * v + x[:, t] @ w_in + b_in
        out[:, t] = v
    return out


def threshold_in_gaps(v, margin_quantiles=(0.25, 0.75)):
    """Per unit, a threshold in the widest gap of V's values, so no V sits near it."""
    flat = np.sort(v.reshape(-1, v.shape[-1]), axis=0)
    n = flat.shape[0]
    lo, hi = (
        int(n * margin_quantiles[0]),
        max(int(n * margin_quantiles[1]), int(n * margin_quantiles[0]) + 2),
    )
    hi = min(hi, n)
    gaps = flat[lo + 1 : hi] - flat[lo : hi - 1]
    index = np.argmax(gaps, axis=0) + lo
    columns = np.arange(v.shape[-1])
    theta = (flat[index, columns] + flat[index + 1, columns]) / 2
    return theta, gaps.max(axis=0) / 2


def hsru_forward(
    x,
    weights,
    slope,
    initial_state=None,
    mask=None,
    analog_only=False,
    memory_states=2,
    memory="toggle",
):
    """Returns (outputs (B, L, H), final_states [y, V, D] or [y, V]).

    With `memory_states=k` above 2, D is the k-state memory: a count modulo k
    that up spikes (V > theta) raise and down spikes (-V > theta) lower, held
    as the one-hot channels of counts 1 to k - 1, `(batch, (k - 1) * units)`.
    With `memory="latch"`, D is set to 1 by an up spike, reset to 0 by a down
    spike and held otherwise. With `memory="reset"`, D is a count modulo k that
    a down spike (-V > theta) resets to 0 and that then moves up by one count
    for each level V passes: V > j theta and -V > (j + 1) theta, j = 1 .. k - 1.
    """
    if analog_only:
        w_in, b_in, tau, w_out, b_out = [np.asarray(w, np.float64) for w in weights]
    else:
        w_in, b_in, tau, theta, w_out, b_out = [np.asarray(w, np.float64) for w in weights]
    x = np.asarray(x, np.float64)
    batch, length, _ = x.shape
    units = w_in.shape[1]
    alpha = np.exp(-softplus(tau))
    if initial_state is None:
        initial_state = [np.zeros((batch, units))] * 2
        if not analog_only:
            initial_state.append(np.zeros((batch, (memory_states - 1) * units)))
    y, v = [np.asarray(s, np.float64) for s in initial_state[:2]]
    d = None if analog_only else np.asarray(initial_state[2], np.float64)
    outputs = np.zeros((batch, length, units))
    for t in range(length):
        v_new = alpha * v + x[:, t] @ w_in + b_in
        if analog_only:
            y_new = np.tanh(v_new @ w_out + b_out)
        else:
            s = (v_new - theta > 0).astype(np.float64)
            if memory == "latch":
                down = (-v_new - theta > 0).astype(np.float64)
                d_new = np.where(s > down, 1.0, np.where(down > s, 0.0, d))
            elif memory == "reset":
                adds = [v_new - j * theta > 0 for j in range(1, memory_states)]
                sets = [-v_new - (j + 1) * theta > 0 for j in range(1, memory_states)]
                levels = np.stack(adds + sets, 1).astype(np.float64)
                down = (-v_new - theta > 0).astype(np.float64)
                o = reset_counter_step(full_counts(d, memory_states), levels, down)
                d_new = o[:, 1:].reshape(batch, -1)
            elif memory_states == 2:
                d_new = d * (1 - s) + (1 - d) * s
            else:
                down = (-v_new - theta > 0).astype(np.float64)
                o = counter_step(full_counts(d, memory_states), s, down)
                d_new = o[:, 1:].reshape(batch, -1)
            y_new = np.tanh(np.concatenate([v_new, d_new], -1) @ w_out + b_out)
        keep = np.ones((batch, 1)) if mask is None else np.asarray(mask, np.float64)[:, t, None]
        v = keep * v_new + (1 - keep) * v
        y = keep * y_new + (1 - keep) * y
        if not analog_only:
            d = keep * d_new + (1 - keep) * d
        outputs[:, t] = y
    return outputs, ([y, v] if analog_only else [y, v, d])


def hsru_gradients(
    x, weights, slope, upstream, upstream_v, upstream_d, surrogate_name="fast_sigmoid"
):
    """Gradients of sum(upstream * Y) + sum(upstream_v * V_T) + sum(upstream_d * D_T).

    Zero initial states, no mask. Returns (dx, [dW_in, db_in, dtau, dtheta, dW_out, db_out]).
    """
    w_in, b_in, tau, theta, w_out, b_out = [np.asarray(w, np.float64) for w in weights]
    x = np.asarray(x, np.float64)
    batch, length, _ = x.shape
    units = w_in.shape[1]
    alpha = np.exp(-softplus(tau))
    vs, ds, ss, ys = [], [], [], []
    v = np.zeros((batch, units))
    d = np.zeros((batch, units))
    for t in range(length):
        v = alpha * v + x[:, t] @ w_in + b_in
        s = (v - theta > 0).astype(np.float64)
        d = d * (1 - s) + (1 - d) * s
        vs.append(v)
        ds.append(d)
        ss.append(s)
        ys.append(np.tanh(np.concatenate([v, d], -1) @ w_out + b_out))
    grads = [np.zeros_like(w) for w in (w_in, b_in, tau, theta, w_out, b_out)]
    g_w_in, g_b_in, _, g_theta, g_w_out, g_b_out = grads
    g_alpha = np.zeros(units)
    dx = np.zeros_like(x)
    carry_v = np.asarray(upstream_v, np.float64).copy()
    carry_d = np.asarray(upstream_d, np.float64).copy()
    for t in reversed(range(length)):
        dz = upstream[:, t] * (1 - ys[t] ** 2)
        g_w_out += np.concatenate([vs[t], ds[t]], -1).T @ dz
        g_b_out += dz.sum(0)
        dv = dz @ w_out[:units].T + carry_v
        dd = dz @ w_out[units:].T + carry_d
        d_prev = ds[t - 1] if t > 0 else np.zeros((batch, units))
        v_prev = vs[t - 1] if t > 0 else np.zeros((batch, units))
        ds_t = dd * (1 - 2 * d_prev)
        sur = surrogate(vs[t] - theta, slope, surrogate_name)
        dv = dv + ds_t * sur
        g_theta -= (ds_t * sur).sum(0)
        g_alpha += (dv * v_prev).sum(0)
        g_w_in += x[:, t].T @ dv
        g_b_in += dv.sum(0)
        dx[:, t] = dv @ w_in.T
        carry_v = dv * alpha
        carry_d = dd * (1 - 2 * ss[t])
    grads[2] = g_alpha * (-alpha * sigmoid(tau))
    return dx, grads


def counter_step(o, up, down):
    """One step of the k-state memory, o `(batch, k, units)` over the counts."""
    up, down = up[:, None], down[:, None]
    return (
        (1 - up) * (1 - down) * o
        + up * (1 - down) * np.roll(o, 1, axis=1)
        + down * (1 - up) * np.roll(o, -1, axis=1)
        + up * down * o
    )


def reset_counter_step(o, moves, reset):
    """One step of the reset counter, o `(batch, k, units)`: a reset spike puts
    the count at 0, then each move spike of `moves` `(batch, L, units)` adds one."""
    first = np.zeros_like(o)
    first[:, 0] = 1
    e = (1 - reset[:, None]) * o + reset[:, None] * first
    for level in range(moves.shape[1]):
        s = moves[:, level][:, None]
        e = (1 - s) * e + s * np.roll(e, 1, axis=1)
    return e


def reset_counter_gradients(moves, resets, initial, upstream):
    """float64 gradients of sum(upstream * o) over the step loop of
    `reset_counter_step`, backpropagated through each step's reset and moves by
    hand. Returns (d moves, d resets, d initial)."""
    moves, resets = np.asarray(moves, np.float64), np.asarray(resets, np.float64)
    states, o = [], np.asarray(initial, np.float64)
    for t in range(moves.shape[1]):
        o = reset_counter_step(o, moves[:, t], resets[:, t])
        states.append(o)
    first = np.zeros_like(o)
    first[:, 0] = 1
    grad_moves, grad_resets = np.zeros_like(moves), np.zeros_like(resets)
    adjoint = np.zeros_like(o)
    for t in reversed(range(moves.shape[1])):
        adjoint = adjoint + upstream[:, t]
        previous = states[t - 1] if t > 0 else np.asarray(initial, np.float64)
        r = resets[:, t][:, None]
        entered = [(1 - r) * previous + r * first]
        for level in range(moves.shape[2]):
            s = moves[:, t, level][:, None]
            entered.append((1 - s) * entered[-1] + s * np.roll(entered[-1], 1, axis=1))
        for level in reversed(range(moves.shape[2])):
            s = moves[:, t, level][:, None]
            before = entered[level]
            grad_moves[:, t, level] = (adjoint * (np.roll(before, 1, axis=1) - before)).sum(1)
            adjoint = (1 - s) * adjoint + s * np.roll(adjoint, -1, axis=1)
        grad_resets[:, t] = (adjoint * (first - previous)).sum(1)
        adjoint = (1 - r) * adjoint
    return grad_moves, grad_resets, adjoint


def full_counts(d, k):
    """The memory state `(batch, (k - 1) * units)` as `(batch, k, units)`."""
    rest = np.asarray(d, np.float64).reshape(d.shape[0], k - 1, -1)
    return np.concatenate([1 - rest.sum(1, keepdims=True), rest], axis=1)


def counter_gradients(x, weights, slope, k, upstream, upstream_v, upstream_d):
    """Backpropagation through time of `hsru_forward(..., memory_states=k)`, by hand.

    Gradients of sum(upstream * Y) + sum(upstream_v * V_T) + sum(upstream_d * D_T),
    zero initial states, no mask. A step is o_t = A o_{t-1} with
    A = (1 - u)(1 - d) + u (1 - d) P + d (1 - u) P^-1 + u d (P: one count
    up), so dL/du = psi . ((1 - d)(P - 1) + d (1 - P^-1)) o_{t-1} and
    dL/dd = psi . ((1 - u)(P^-1 - 1) + u (1 - P)) o_{t-1}, where psi is the
    adjoint of o_t with count 0 at zero (the state holds counts 1 .. k - 1, and
    count 0 is 1 minus their sum). Returns (dx, [dW_in, db_in, dtau, dtheta,
    dW_out, db_out]).
    """
    w_in, b_in, tau, theta, w_out, b_out = [np.asarray(w, np.float64) for w in weights]
    x = np.asarray(x, np.float64)
    batch, length, _ = x.shape
    units = w_in.shape[1]
    alpha = np.exp(-softplus(tau))
    roll = lambda o, shift: np.roll(o, shift, axis=1)  # noqa: E731
    vs, os, ups, downs, ys = [], [], [], [], []
    v = np.zeros((batch, units))
    o = full_counts(np.zeros((batch, (k - 1) * units)), k)
    for t in range(length):
        v = alpha * v + x[:, t] @ w_in + b_in
        up = (v - theta > 0).astype(np.float64)
        down = (-v - theta > 0).astype(np.float64)
        o = counter_step(o, up, down)
        vs.append(v)
        os.append(o)
        ups.append(up)
        downs.append(down)
        ys.append(np.tanh(np.concatenate([v, o[:, 1:].reshape(batch, -1)], -1) @ w_out + b_out))
    g_w_in, g_b_in, g_theta = np.zeros_like(w_in), np.zeros_like(b_in), np.zeros_like(theta)
    g_w_out, g_b_out, g_alpha = np.zeros_like(w_out), np.zeros_like(b_out), np.zeros(units)
    dx = np.zeros_like(x)
    carry_v = np.asarray(upstream_v, np.float64).copy()
    carry_d = np.asarray(upstream_d, np.float64).copy()
    initial_o = full_counts(np.zeros((batch, (k - 1) * units)), k)
    for t in reversed(range(length)):
        o_prev = os[t - 1] if t > 0 else initial_o
        v_prev = vs[t - 1] if t > 0 else np.zeros((batch, units))
        features = np.concatenate([vs[t], os[t][:, 1:].reshape(batch, -1)], -1)
        dz = upstream[:, t] * (1 - ys[t] ** 2)
        g_w_out += features.T @ dz
        g_b_out += dz.sum(0)
        dv = dz @ w_out[:units].T + carry_v
        d_rest = dz @ w_out[units:].T + carry_d
        psi = np.concatenate([np.zeros((batch, 1, units)), d_rest.reshape(batch, k - 1, units)], 1)
        up, down = ups[t][:, None], downs[t][:, None]
        d_up = (psi * ((1 - down) * (roll(o_prev, 1) - o_prev))).sum(1)
        d_up += (psi * (down * (o_prev - roll(o_prev, -1)))).sum(1)
        d_down = (psi * ((1 - up) * (roll(o_prev, -1) - o_prev))).sum(1)
        d_down += (psi * (up * (o_prev - roll(o_prev, 1)))).sum(1)
        sur_up = surrogate(vs[t] - theta, slope)
        sur_down = surrogate(-vs[t] - theta, slope)
        dv = dv + d_up * sur_up - d_down * sur_down
        g_theta -= (d_up * sur_up + d_down * sur_down).sum(0)
        g_alpha += (dv * v_prev).sum(0)
        g_w_in += x[:, t].T @ dv
        g_b_in += dv.sum(0)
        dx[:, t] = dv @ w_in.T
        carry_v = dv * alpha
        # psi through A^T (P^T = P^-1), then through count 0 = 1 - the others.
        through = (
            (1 - up) * (1 - down) * psi
            + up * (1 - down) * roll(psi, -1)
            + down * (1 - up) * roll(psi, 1)
            + up * down * psi
        )
        carry_d = (through[:, 1:] - through[:, :1]).reshape(batch, -1)
    g_tau = g_alpha * (-alpha * sigmoid(tau))
    return dx, [g_w_in, g_b_in, g_tau, g_theta, g_w_out, g_b_out]
