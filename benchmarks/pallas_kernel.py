"""JAX: the fused Pallas kernels for V, S and D against the composed ops, per kernel setting.

The Pallas kernels (`keras_hsru.ops.pallas_hybrid_scan`) walk time
sequentially in programs of `block_units` units, loading `unroll` steps' rows
before using the first. This times, on the current device, the kernels
forward, and forward then backward (what a train step runs), jit-compiled,
for each (unroll, block) setting and for the composed ops (linear_scan + spike + xor_scan, what
`implementation="scan"` runs), in `--rounds` alternating passes; prints medians, each
setting's speed-up over the composed ops, and the bandwidth it reached on the
bytes it must move (forward: read I, write V and D; backward: read the two
upstream gradients, V and D, write dI). Each setting is first checked against
the composed ops on the timed inputs: V's largest relative difference, and the
fraction of D that agrees (a rounding difference at V ~ theta flips a bit).

    KERAS_BACKEND=jax python benchmarks/pallas_kernel.py --batch 64 --units 256 --lengths 4096

Off a GPU the kernels run only under Pallas' interpreter (`--interpret`),
which keeps this script tested but times nothing meaningful.
"""

import argparse
import functools
import json
import statistics

import keras
import numpy as np
from harness import check_positive, device_name, median_seconds

SLOPE = 5.0


def composed(decay, current, threshold, potential0, memory0):
    from keras_hsru import ops

    return ops.hybrid_scan(decay, current, threshold, SLOPE, potential0, memory0, fused=False)


def fused(unroll, block, interpret):
    from keras_hsru import ops

    def run(decay, current, threshold, potential0, memory0):
        return ops.pallas_hybrid_scan(
            decay, current, threshold, SLOPE, potential0, memory0, unroll, block, interpret
        )

    return run


def compile_pair(function, upstream):
    """jit-compiled forward, and forward then backward, of `function`."""
    import jax

    def train_like(*args):
        states, pullback = jax.vjp(function, *args)
        return pullback(upstream)

    return jax.jit(function), jax.jit(train_like)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--lengths", type=int, nargs="+", default=[4096])
    parser.add_argument("--unrolls", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--blocks", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating passes")
    parser.add_argument("--interpret", action="store_true", help="Pallas' interpreter")
    parser.add_argument("--json", help="write results to this file")
    args = parser.parse_args()
    check_positive(args, ("batch", "units", "lengths", "unrolls", "blocks", "repeats", "rounds"))
    for block in args.blocks:
        if block & (block - 1) or args.units % block:
            raise ValueError(
                "--blocks must be powers of two that divide --units. "
                f"Received: blocks={args.blocks}, units={args.units}"
            )
    if keras.backend.backend() != "jax":
        raise SystemExit("run with KERAS_BACKEND=jax")
    import jax
    import jax.numpy as jnp

    device = device_name()
    if device == "cpu" and not args.interpret:
        raise SystemExit("Pallas' Triton kernels need a GPU; pass --interpret to run them here")
    rng = np.random.default_rng(0)
    print(f"device {device}, B={args.batch}, H={args.units}; medians over {args.rounds} rounds")
    rows, checks = [], []
    for length in args.lengths:
        shape, state = (args.batch, length, args.units), (args.batch, args.units)
        inputs = [
            jnp.asarray(a, jnp.float32)
            for a in (
                rng.uniform(0.05, 0.999, args.units),
                rng.normal(size=shape),
                rng.normal(size=args.units),
                rng.normal(size=state),
                rng.integers(0, 2, size=state),
            )
        ]
        upstream = tuple(jnp.asarray(rng.normal(size=shape), jnp.float32) for _ in range(2))
        paths = {"composed": compile_pair(composed, upstream)}
        for block in args.blocks:
            for unroll in args.unrolls:
                paths[f"unroll {unroll}, block {block}"] = compile_pair(
                    fused(unroll, block, args.interpret), upstream
                )
        want_v, want_d = paths["composed"][0](*inputs)
        for name, (forward, _) in paths.items():
            got_v, got_d = forward(*inputs)
            error = float(jnp.max(jnp.abs(got_v - want_v)) / jnp.max(jnp.abs(want_v)))
            agree = float(jnp.mean(got_d == want_d))
            checks.append({"length": length, "path": name, "v_error": error, "d_agree": agree})
        for round_ in range(args.rounds):
            for name, (forward, train_like) in paths.items():
                forward_s, _ = median_seconds(functools.partial(forward, *inputs), args.repeats)
                train_s, _ = median_seconds(functools.partial(train_like, *inputs), args.repeats)
                rows.append(
                    {
                        "length": length,
                        "path": name,
                        "round": round_,
                        "forward_ms": 1e3 * forward_s,
                        "forward_and_backward_ms": 1e3 * train_s,
                    }
                )
    summary = summarise(rows, checks, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"device": device, "jax": jax.__version__, "args": vars(args), "rows": rows,
                 "summary": summary},
                f,
                indent=1,
            )  # fmt: skip


def summarise(rows, checks, args):
    """Medians over rounds, speed-ups over the composed ops, bandwidth on the bytes moved."""
    summary = []
    print(
        "\n| L | path | V rel. diff | D agree | fwd ms | fwd+bwd ms | x composed (fwd, fwd+bwd) "
        "| GB/s (fwd, fwd+bwd) |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for check in checks:
        length, path = check["length"], check["path"]
        mine = [r for r in rows if r["length"] == length and r["path"] == path]
        base = [r for r in rows if r["length"] == length and r["path"] == "composed"]
        times, ratios = {}, {}
        for key in ("forward_ms", "forward_and_backward_ms"):
            times[key] = statistics.median(r[key] for r in mine)
            ratios[key] = statistics.median(r[key] for r in base) / times[key]
        tensor_bytes = 4 * args.batch * length * args.units
        bandwidth = {
            "forward": 3 * tensor_bytes / times["forward_ms"] / 1e6,
            "forward_and_backward": 8 * tensor_bytes / times["forward_and_backward_ms"] / 1e6,
        }
        summary.append({**check, **times, "speedup": ratios, "gb_per_s": bandwidth})
        print(
            f"| {length} | {path} | {check['v_error']:.1e} | {check['d_agree']:.6f} "
            f"| {times['forward_ms']:.3f} | {times['forward_and_backward_ms']:.3f} "
            f"| {ratios['forward_ms']:.2f}x, {ratios['forward_and_backward_ms']:.2f}x "
            f"| {bandwidth['forward']:.0f}, {bandwidth['forward_and_backward']:.0f} |"
        )
    return summary


if __name__ == "__main__":
    main()
