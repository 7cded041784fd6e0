"""Train-step and forward speed of HSRU against RNN(HSRUCell), LSTM and GRU.

Times, on the current backend (KERAS_BACKEND) and device, one optimizer step
(`train_on_batch`: forward, backward, AdamW update) and one forward pass
(`predict_on_batch`) for each layer and sequence length, all in one run, and
prints medians and ratios to HSRU. A configuration whose first step takes longer
than `--skip-after` seconds is reported as skipped, with longer sequences of
that layer skipped too. The `Dense` row replaces the recurrent layer by a
Dense(units) on each step: the floor that keras' train step and the layers
around it cost, whatever the recurrent layer. Each row also gives the minor page
faults per step (median): fresh memory the process had the kernel map in, which
on CPU can cost as much as the arithmetic done on it. On a GPU
it prints beside each HSRU time the lower bound max(FLOPs / matmul rate,
bytes / bandwidth), both rates measured in the same run. With `--rounds N` the
layers of a length are timed in N alternating passes and each time is the
median over the rounds, so that a slow spell of a shared machine falls on every
layer. With `--dtype-policy mixed_bfloat16` (or `mixed_float16`) every layer
trains under that keras policy, and the bound counts its 2-byte values and its
matmul rate. Each row holds the peak memory after its first round (torch on
CUDA: that row's own peak; elsewhere the process's peak so far, which
`memory.py` measures per row in fresh processes). Writes everything as JSON.

    KERAS_BACKEND=jax python benchmarks/speed.py --json outputs/speed-cpu-jax.json
    KERAS_BACKEND=torch python benchmarks/speed.py --batch 64 --features 64 --units 256 \\
        --lengths 4096 --json outputs/speed-gpu-torch.json
"""

import argparse
import functools
import platform
import statistics
import time

import keras
import numpy as np
from harness import (
    DTYPE_POLICIES,
    LAYERS,
    add_model_arguments,
    build_model,
    check_positive,
    device_name,
    host_name,
    median_seconds,
    peak_memory_bytes,
    reset_peak_memory,
    synchronize,
    write_report,
)


def measure_device_rates(size=8192, bytes_=1 << 30, dtype="float32"):
    """Achieved matmul FLOP/s (in `dtype`, backend defaults) and copy bandwidth, for the bounds."""
    a = keras.random.normal((size, size), dtype=dtype)
    matmul = median_seconds(lambda: keras.ops.matmul(a, a), repeats=5)[0]
    x = keras.ops.zeros((bytes_ // 4,))
    copy = median_seconds(lambda: x + 1.0, repeats=5)[0]
    return 2 * size**3 / matmul, 2 * bytes_ / copy


def lower_bound_seconds(
    batch, length, features, units, flops_rate, bandwidth, train, compute_bytes=4
):
    # Projections: x W_in (features x units) and [V, D] W_out (2 units x units);
    # forward 2 FLOPs per multiply-add, backward twice that.
    flops = (6 if train else 2) * batch * length * units * (features + 2 * units)
    # Forward reads x and writes V, D, y; backward reads dy, V, D, x and writes dx.
    # V and D stay float32 (4 bytes); x, y and their gradients are in the compute dtype.
    compute = (2 * features + 2 * units) if train else (features + units)
    states = 4 * units if train else 2 * units
    moved = batch * length * (compute_bytes * compute + 4 * states)
    return max(flops / flops_rate, moved / bandwidth), flops, moved


def run(args):
    rng = np.random.default_rng(0)
    on_gpu = device_name() != "cpu"
    compute_dtype = keras.config.dtype_policy().compute_dtype
    rates = measure_device_rates(dtype=compute_dtype) if on_gpu else None
    compute_bytes = 2 if compute_dtype in ("bfloat16", "float16") else 4
    results = []
    skipped_layers = {}
    for length in args.lengths:
        # On the device before timing: the steps time the layers, not host transfers.
        x = keras.ops.convert_to_tensor(
            rng.normal(size=(args.batch, length, args.features)), "float32"
        )
        y = keras.ops.convert_to_tensor(rng.normal(size=(args.batch, 1)), "float32")
        timed = []
        for name in args.layers:
            row = {"layer": name, "length": length}
            results.append(row)
            if name in skipped_layers:
                row["skipped"] = skipped_layers[name]
                continue
            start = time.perf_counter()
            try:
                model = build_model(LAYERS[name](args.units), length, args.features)
                synchronize(model.train_on_batch(x, y))
            except Exception as error:  # a forced path this device lacks: say so, time the rest
                row["skipped"] = (
                    f"failed: {type(error).__name__}: {' '.join(str(error).split())[:300]}"
                )
                print(f"{name:14s} L={length:6d}  {row['skipped']}", flush=True)
                continue
            first = time.perf_counter() - start
            if first > args.skip_after:
                reason = f"first train step (with compilation) took {first:.1f} s at L={length}"
                skipped_layers[name] = reason
                row["skipped"] = reason
                print(f"{name:14s} L={length:6d}  skipped: {reason}", flush=True)
                continue
            row["train_rounds_s"], row["forward_rounds_s"] = [], []
            row["train_page_faults"], row["forward_page_faults"] = [], []
            train_step = functools.partial(model.train_on_batch, x, y)
            forward = functools.partial(model.predict_on_batch, x)
            timed.append((row, train_step, forward))
        # Rounds alternate the layers, so that a slow spell of a shared machine
        # falls on all of them; each layer's time is its median over rounds.
        for round_ in range(args.rounds):
            warmup = 2 if round_ == 0 else 1
            for row, train_step, forward in timed:
                if round_ == 0:
                    reset_peak_memory()
                row["train_rounds_s"].append(
                    median_seconds(train_step, args.repeats, warmup, row["train_page_faults"])[0]
                )
                row["forward_rounds_s"].append(
                    median_seconds(forward, args.repeats, warmup, row["forward_page_faults"])[0]
                )
                if round_ == 0:
                    row["peak_memory_bytes"] = peak_memory_bytes()
                print(
                    f"{row['layer']:14s} L={length:6d}  round {round_ + 1}  "
                    f"train {row['train_rounds_s'][-1] * 1e3:9.2f} ms  "
                    f"forward {row['forward_rounds_s'][-1] * 1e3:9.2f} ms",
                    flush=True,
                )
        for row, _, _ in timed:
            row["train_s"] = statistics.median(row["train_rounds_s"])
            row["forward_s"] = statistics.median(row["forward_rounds_s"])
            for mode in ("train", "forward"):
                row[f"{mode}_page_faults_per_step"] = statistics.median(row[f"{mode}_page_faults"])
            if rates and row["layer"].startswith("HSRU"):
                for mode in ("train", "forward"):
                    bound, flops, moved = lower_bound_seconds(
                        args.batch, length, args.features, args.units, *rates,
                        mode == "train", compute_bytes,
                    )  # fmt: skip
                    row[f"{mode}_lower_bound_s"] = bound
                    row[f"{mode}_flops"] = flops
                    row[f"{mode}_bytes"] = moved
    return results, rates


def print_table(results, args):
    by_key = {(r["layer"], r["length"]): r for r in results}
    print()
    print(
        f"backend {keras.backend.backend()}, device {device_name()}, B={args.batch}, "
        f"Din={args.features}, H={args.units}, {args.dtype_policy}; medians of {args.repeats} steps, "
        f"then the median over {args.rounds} rounds"
    )
    header = (
        f"{'layer':14s} {'L':>6s} {'train ms':>10s} {'fwd ms':>10s} {'train x HSRU':>13s} "
        f"{'fwd x HSRU':>11s} {'faults/train':>13s} {'faults/fwd':>11s}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        if "skipped" in r:
            print(f"{r['layer']:14s} {r['length']:6d}  skipped: {r['skipped']}")
            continue
        base = by_key.get(("HSRU", r["length"]), {})

        def ratio(key, r=r, base=base):
            return r[key] / base[key] if key in base else float("nan")

        line = (
            f"{r['layer']:14s} {r['length']:6d} {r['train_s'] * 1e3:10.2f} {r['forward_s'] * 1e3:10.2f} "
            f"{ratio('train_s'):13.2f} {ratio('forward_s'):11.2f} "
            f"{r['train_page_faults_per_step']:13.0f} {r['forward_page_faults_per_step']:11.0f}"
        )
        if "train_lower_bound_s" in r:
            line += (
                f"   bound: train {r['train_lower_bound_s'] * 1e3:.2f} ms "
                f"({r['train_s'] / r['train_lower_bound_s']:.1f}x), "
                f"fwd {r['forward_lower_bound_s'] * 1e3:.2f} ms "
                f"({r['forward_s'] / r['forward_lower_bound_s']:.1f}x)"
            )
        print(line)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096, 16384])
    parser.add_argument(
        "--layers",
        nargs="+",
        default=[name for name in LAYERS if not name.startswith("HSRU(")],
        choices=list(LAYERS),
        help="default: all but the HSRU variants (a forced implementation, a counter)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=1, help="passes over the layers")
    parser.add_argument("--skip-after", type=float, default=30.0, help="seconds")
    parser.add_argument(
        "--dtype-policy",
        default="float32",
        choices=DTYPE_POLICIES,
        help="keras' dtype policy for every layer",
    )
    parser.add_argument("--json", help="write results to this file")
    args = parser.parse_args()
    check_positive(args, ("batch", "features", "units", "lengths", "repeats", "rounds"))
    keras.config.set_dtype_policy(args.dtype_policy)
    results, rates = run(args)
    print_table(results, args)
    if args.json:
        write_report(
            args.json,
            args,
            ("batch", "features", "units", "repeats", "rounds", "dtype_policy"),
            keras=keras.__version__,
            python=platform.python_version(),
            host=host_name(),
            matmul_flops_per_s=rates[0] if rates else None,
            bandwidth_bytes_per_s=rates[1] if rates else None,
            results=results,
        )


if __name__ == "__main__":
    main()
