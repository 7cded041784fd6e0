"""JAX: the algorithms for HSRU's two scans, timed against each other in one run.

HSRU's JAX path (`keras_hsru/ops/_jax.py`) computes V with a linear scan of
constant per-unit decay and D from a cumulative spike count, each forward and
once more in reverse for the gradient. This times, on the current device,
each candidate algorithm for those scans as one forward plus one reverse pass
(what a train step runs), and forward only:

- `package`: what `keras_hsru.ops._jax` uses on this device now (sequential
  `lax.scan` on a CPU; `lax.associative_scan` for V and `lax.cumsum` for the
  count elsewhere).
- `sequential`: `lax.scan`, one step at a time.
- `associative`: `lax.associative_scan` over (decay, input) pairs.
- `odd-even`: the same log-depth recursion specialised to a constant decay,
  which carries only the inputs (the decay of each level is a per-unit
  vector, decay ** (2 ** level)), halving the data each level moves.
- `chunked`: matmuls over chunks of 64 steps (one lower-triangular
  (64 x 64) decay matrix per unit, float32 at `HIGHEST` precision so no
  TF32 rounding reaches V), then a short scan over the chunk ends.

Each candidate is first checked against a float64 NumPy recurrence (the
largest relative error is printed beside its times). The candidates live in
this script, not in the package, until a run on the device they target shows
which one to use.

    KERAS_BACKEND=jax python benchmarks/jax_scan_algorithms.py --json results/jax-scan-algorithms-cpu.json
"""

import argparse
import json
import statistics

import keras
import numpy as np
from speed import check_positive, device_name, median_seconds

CHUNK = 64


def odd_even_scan(decay, inputs):
    """h_t = decay * h_{t-1} + inputs_t along axis 1 from zero, for a (units,) decay.

    Pairs (x_{2k}, x_{2k+1}) fold into decay * x_{2k} + x_{2k+1}, whose scan
    with decay ** 2 gives the odd states; each even state is one step from
    the odd one before it. Only powers of the decay are formed (safe at any
    length).
    """
    import jax.numpy as jnp

    length = inputs.shape[1]
    if length == 1:
        return inputs
    pairs = length // 2
    even, odd = inputs[:, 0 : 2 * pairs : 2], inputs[:, 1 : 2 * pairs : 2]
    odd_states = odd_even_scan(decay * decay, decay * even + odd)
    later_even = decay * odd_states[:, : (length - 1) // 2] + inputs[:, 2::2]
    even_states = jnp.concatenate([inputs[:, :1], later_even], axis=1)
    batch, _, units = inputs.shape
    woven = jnp.stack([even_states[:, :pairs], odd_states], axis=2)
    woven = woven.reshape(batch, 2 * pairs, units)
    if length % 2:
        woven = jnp.concatenate([woven, even_states[:, -1:]], axis=1)
    return woven


def chunked_scan(decay, inputs):
    """The same scan as matmuls over chunks of CHUNK steps (see the module docstring)."""
    import jax
    import jax.numpy as jnp

    batch, length, units = inputs.shape
    chunks = -(-length // CHUNK)
    padded = jnp.pad(inputs, ((0, 0), (0, chunks * CHUNK - length), (0, 0)))
    padded = padded.reshape(batch, chunks, CHUNK, units)
    steps = jnp.arange(CHUNK)
    lags = steps[:, None] - steps[None, :]
    log_decay = jnp.log(jnp.maximum(decay, jnp.finfo(decay.dtype).tiny))
    # (units, CHUNK, CHUNK): decay ** (t - s) on and below the diagonal.
    kernel = jnp.where(lags >= 0, jnp.exp(jnp.maximum(lags, 0)[None] * log_decay[:, None, None]), 0)
    local = jnp.einsum("uts,bcsu->bctu", kernel, padded, precision=jax.lax.Precision.HIGHEST)
    ends = odd_even_scan(decay**CHUNK, local[:, :, -1])
    previous_ends = jnp.pad(ends[:, :-1], ((0, 0), (1, 0), (0, 0)))
    growth = jnp.exp((steps[:, None] + 1) * log_decay[None, :])  # decay ** (t + 1)
    states = local + growth * previous_ends[:, :, None]
    return states.reshape(batch, chunks * CHUNK, units)[:, :length]


def associative_scan(decay, inputs):
    import jax
    import jax.numpy as jnp

    from keras_hsru.ops import _jax

    pairs = (jnp.broadcast_to(decay, inputs.shape), inputs)
    return jax.lax.associative_scan(_jax._combine, pairs, axis=1)[1]


def sequential_scan(decay, inputs):
    from keras_hsru.ops import _jax

    return _jax._sequential_scan(decay, inputs, False)


def package(decay, inputs, reverse, count):
    """What `keras_hsru.ops._jax` runs on this device for V (a scan) or for the count."""
    from keras_hsru.ops import _jax

    if count:
        return _jax._cumulative_sum(inputs, reverse)
    return _jax._scan(decay, inputs, reverse)


FORWARD_SCANS = {
    "sequential": sequential_scan,
    "associative": associative_scan,
    "odd-even": odd_even_scan,
    "chunked": chunked_scan,
}


def in_both_directions(forward_scan):
    """A forward-only scan as `(decay, inputs, reverse, count)`; reverse runs on flipped time."""
    import jax.numpy as jnp

    def scan(decay, inputs, reverse, count):
        if count:
            decay = jnp.ones(inputs.shape[-1], inputs.dtype)
        if not reverse:
            return forward_scan(decay, inputs)
        return jnp.flip(forward_scan(decay, jnp.flip(inputs, 1)), 1)

    return scan


def candidates():
    """name -> scan(decay, inputs, reverse, count), count meaning a decay of 1."""
    found = {"package": package}
    for name, forward_scan in FORWARD_SCANS.items():
        found[name] = in_both_directions(forward_scan)
    return found


def reference_scan(decay, inputs):
    states = np.zeros(inputs.shape)
    state = np.zeros((inputs.shape[0], inputs.shape[2]))
    for t in range(inputs.shape[1]):
        state = decay * state + inputs[:, t]
        states[:, t] = state
    return states


def largest_relative_error(scan, rng):
    """Both directions of both scans against float64, at L=300."""
    import jax

    scan = jax.jit(scan, static_argnums=(2, 3))  # eager, the recursions dispatch op by op
    decay = rng.uniform(0.05, 0.999, 8).astype("float32")
    inputs = rng.normal(size=(3, 300, 8)).astype("float32")
    spikes = (rng.uniform(size=(3, 300, 8)) < 0.5).astype("float32")
    errors = []
    for values, rate, count in ((inputs, decay, False), (spikes, np.ones(8), True)):
        values64 = values.astype(np.float64)
        for reverse in (False, True):
            if reverse:
                want = reference_scan(rate, values64[:, ::-1])[:, ::-1]
            else:
                want = reference_scan(rate, values64)
            got = np.asarray(scan(decay, values, reverse, count), np.float64)
            errors.append(np.max(np.abs(got - want)) / np.max(np.abs(want)))
    return max(errors)


def time_scan(scan, decay, inputs, count, repeats):
    """Median ms of the forward scan, and of it followed by the reverse one, jit-compiled."""
    import jax

    forward = jax.jit(lambda values: scan(decay, values, False, count))
    train_like = jax.jit(lambda values: scan(decay, scan(decay, values, False, count), True, count))
    forward_seconds, _ = median_seconds(lambda: forward(inputs), repeats)
    train_seconds, _ = median_seconds(lambda: train_like(inputs), repeats)
    return 1e3 * forward_seconds, 1e3 * train_seconds


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating passes")
    parser.add_argument("--json", help="write results to this file")
    args = parser.parse_args()
    check_positive(args, ("batch", "units", "lengths", "repeats", "rounds"))
    if keras.backend.backend() != "jax":
        raise SystemExit("run with KERAS_BACKEND=jax")
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    algorithms = candidates()
    errors = {name: largest_relative_error(scan, rng) for name, scan in algorithms.items()}
    device = device_name()
    print(f"device {device}, B={args.batch}, H={args.units}; medians over {args.rounds} rounds")
    rows = []
    for length in args.lengths:
        decay = jnp.asarray(rng.uniform(0.05, 0.999, args.units), jnp.float32)
        shape = (args.batch, length, args.units)
        values = {
            "V": jnp.asarray(rng.normal(size=shape), jnp.float32),
            "count": jnp.asarray(rng.uniform(size=shape) < 0.5, jnp.float32),
        }
        for round_ in range(args.rounds):
            for scan_of, inputs in values.items():
                for name, scan in algorithms.items():
                    forward_ms, train_ms = time_scan(
                        scan, decay, inputs, scan_of == "count", args.repeats
                    )
                    rows.append(
                        {
                            "length": length,
                            "scan": scan_of,
                            "algorithm": name,
                            "round": round_,
                            "forward_ms": forward_ms,
                            "forward_and_reverse_ms": train_ms,
                        }
                    )
    summary = summarise(rows, errors)
    print_summary(summary)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"device": device, "args": vars(args), "rows": rows, "summary": summary},
                f,
                indent=1,
            )


def summarise(rows, errors):
    """Medians over rounds, and each algorithm's ratio to the package's current choice."""
    summary = []
    keys = sorted({(r["length"], r["scan"]) for r in rows}, key=lambda k: (k[0], k[1] != "V"))
    for length, scan_of in keys:
        picked = [r for r in rows if r["length"] == length and r["scan"] == scan_of]
        medians = {}
        for name in dict.fromkeys(r["algorithm"] for r in picked):
            mine = [r for r in picked if r["algorithm"] == name]
            medians[name] = {
                key: statistics.median(r[key] for r in mine)
                for key in ("forward_ms", "forward_and_reverse_ms")
            }
        base = medians["package"]
        for name, times in medians.items():
            summary.append(
                {
                    "length": length,
                    "scan": scan_of,
                    "algorithm": name,
                    **times,
                    "package_over_this": base["forward_and_reverse_ms"]
                    / times["forward_and_reverse_ms"],
                    "max_relative_error": errors[name],
                }
            )
    return summary


def print_summary(summary):
    print(
        "| L | scan | algorithm | forward ms | forward + reverse ms | package / this | max rel. error |"
    )
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: |")
    for s in summary:
        print(
            f"| {s['length']} | {s['scan']} | {s['algorithm']} | {s['forward_ms']:.2f} "
            f"| {s['forward_and_reverse_ms']:.2f} | {s['package_over_this']:.2f} "
            f"| {s['max_relative_error']:.1e} |"
        )


if __name__ == "__main__":
    main()
