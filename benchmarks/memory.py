"""Peak memory of one train step against the sequence length, and the longest length that trains.

Each (layer, length) runs in a fresh process, so that each peak is that
configuration's own and an out-of-memory error ends only its own run: the
model `speed.py` times, `--steps` train steps, and the peak device memory
(torch: `max_memory_allocated`; JAX: the device's `peak_bytes_in_use`; on a
CPU the peak resident set), the first step's time (with compilation) and the
median step. With `--longest`, each layer's length doubles from the first of
`--lengths` until a step runs out of memory, fails, or the first step takes
over `--first-step-limit` seconds; the longest length that trained is
reported. Under `--dtype-policy` as in `speed.py`.

    KERAS_BACKEND=torch python benchmarks/memory.py --batch 64 --features 64 --units 256 \\
        --layers HSRU LSTM --lengths 1024 4096 16384
    KERAS_BACKEND=jax python benchmarks/memory.py --batch 64 --features 64 --units 256 \\
        --layers HSRU LSTM --lengths 4096 --longest --json outputs/memory-jax.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT_EXCEEDED = "first step over the limit"


def measure(args):
    """In the child process: one configuration, printed as one JSON line."""
    import keras
    import numpy as np
    from harness import LAYERS, build_model, peak_memory_bytes, reset_peak_memory, synchronize

    keras.config.set_dtype_policy(args.dtype_policy)
    length = args.lengths[0]
    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor(rng.normal(size=(args.batch, length, args.features)), "float32")
    y = keras.ops.convert_to_tensor(rng.normal(size=(args.batch, 1)), "float32")
    model = build_model(LAYERS[args.layers[0]](args.units), length, args.features)
    reset_peak_memory()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        synchronize(model.train_on_batch(x, y))
        times.append(time.perf_counter() - start)
        if times[0] > args.first_step_limit:
            break
    print(
        json.dumps(
            {
                "peak_memory_bytes": peak_memory_bytes(),
                "first_step_s": times[0],
                "step_s": statistics.median(times[1:]) if len(times) > 1 else None,
            }
        )
    )


def run_one(layer, length, args):
    """One configuration in a fresh process: its measurements, or why it did not train."""
    command = [
        sys.executable, os.path.abspath(__file__), "--child",
        "--layers", layer, "--lengths", str(length),
        "--batch", str(args.batch), "--features", str(args.features), "--units", str(args.units),
        "--steps", str(args.steps), "--first-step-limit", str(args.first_step_limit),
        "--dtype-policy", args.dtype_policy,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE)
    row = {"layer": layer, "length": length}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        text = done.stderr + done.stdout
        memory = any(s in text for s in ("out of memory", "OutOfMemory", "RESOURCE_EXHAUSTED"))
        row["failed"] = "out of memory" if memory else " ".join(text.split()[-40:])
        return row
    row.update(json.loads(lines[-1]))
    if row["first_step_s"] > args.first_step_limit:
        row["failed"] = LIMIT_EXCEEDED
    return row


def main():
    from harness import (
        DTYPE_POLICIES,
        LAYERS,
        add_model_arguments,
        check_positive,
        device_name,
        write_report,
    )

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--layers", nargs="+", default=["HSRU", "LSTM"], choices=list(LAYERS))
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--steps", type=int, default=3, help="train steps per configuration")
    parser.add_argument("--longest", action="store_true", help="double L until a step fails")
    parser.add_argument("--max-length", type=int, default=1 << 20, help="stop doubling here")
    parser.add_argument("--first-step-limit", type=float, default=20.0, help="seconds")
    parser.add_argument("--dtype-policy", default="float32", choices=DTYPE_POLICIES)
    parser.add_argument("--json", help="write results to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    check_positive(args, ("batch", "features", "units", "lengths", "steps", "max_length"))
    if args.child:
        return measure(args)

    import keras

    print(f"backend {keras.backend.backend()}, device {device_name()}, B={args.batch}, ", end="")
    print(f"Din={args.features}, H={args.units}, {args.dtype_policy}\n", flush=True)
    rows, longest = [], {}

    def save():
        # After every row: a run cut short by a time limit keeps what it measured.
        if not args.json:
            return
        write_report(
            args.json,
            args,
            ("batch", "features", "units", "dtype_policy"),
            first_step_limit_s=args.first_step_limit,
            results=rows,
            longest_length=longest if args.longest else None,
        )

    for layer in args.layers:
        lengths = list(args.lengths)
        while lengths:
            length = lengths.pop(0)
            row = run_one(layer, length, args)
            rows.append(row)
            peak = row.get("peak_memory_bytes")
            print(
                f"{layer:14s} L={length:8d}  "
                + (f"failed: {row['failed']}" if "failed" in row else "")
                + (f"  peak {peak / 2**30:.2f} GiB" if peak else "")
                + (f"  first step {row['first_step_s']:.1f} s" if "first_step_s" in row else ""),
                flush=True,
            )
            if "failed" not in row:
                longest[layer] = max(longest.get(layer, 0), length)
            save()
            if args.longest and not lengths and "failed" not in row:
                if length * 2 <= args.max_length:
                    lengths.append(length * 2)
    print("\n| layer | L | peak memory GiB | first step s | step ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        if "failed" in row:
            print(f"| {row['layer']} | {row['length']} | {row['failed']} | | |")
            continue
        step = f"{row['step_s'] * 1e3:.1f}" if row["step_s"] is not None else ""
        print(
            f"| {row['layer']} | {row['length']} | {row['peak_memory_bytes'] / 2**30:.3f} | "
            f"{row['first_step_s']:.2f} | {step} |"
        )
    if args.longest:
        for layer in args.layers:
            print(f"longest L that trained, {layer}: {longest.get(layer, 'none')}")


if __name__ == "__main__":
    main()
