"""The sweep behind HSRUCell's defaults: parity through the curriculum over thresholds and slopes.

For each initial threshold and surrogate slope `k`, trains an `HSRURNN(16)`
on temporal parity exactly as `examples/temporal_parity.py` does (curriculum
10 -> 30 -> 60, 3 epochs of 100 batches of 64 per stage, AdamW 1e-2, global
clipnorm 1) for several seeds, and prints the test accuracy of each seed on
10,000 fresh sequences at L=60. Every other argument keeps its default
(Glorot kernels, zero biases, tau ~ U(-2, 2)).

With `--anneal START END` it also trains with the slope annealed per
curriculum stage (`keras_hsru.callbacks.SurrogateSlopeSchedule`), geometrically
from START in the first stage to END in the last: the train step is traced
again at each stage for its new length anyway, so the schedule costs no
extra compilation. `--anneal` may be given several times.

    KERAS_BACKEND=jax python examples/threshold_sweep.py               # ~2 minutes on 2 CPU cores
    KERAS_BACKEND=jax python examples/threshold_sweep.py --quick       # a smoke run
    KERAS_BACKEND=jax python examples/threshold_sweep.py --thresholds 0.5 1.0 --seeds 5 \
        --slopes 2 5 10 --anneal 2 10 --anneal 10 2                     # ~4 minutes
"""

import argparse
from types import SimpleNamespace

import keras
import numpy as np
from _outputs import add_output_arguments, write_json
from _parity import train

from keras_hsru.callbacks import SurrogateSlopeSchedule


def per_stage(start, end, stages, epochs_per_stage):
    """The slope at each epoch: START in the first stage, END in the last, geometric between."""

    def slope(epoch):
        stage = min(epoch // epochs_per_stage, stages - 1)
        return start * (end / start) ** (stage / max(stages - 1, 1))

    return slope


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.0, 0.5])
    parser.add_argument("--slopes", type=float, nargs="+", default=[2.0, 5.0, 10.0])
    parser.add_argument(
        "--anneal",
        type=float,
        nargs=2,
        action="append",
        default=[],
        metavar=("START", "END"),
        help="also train with the slope annealed per stage from START to END",
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="one seed, few steps, one annealed run, for tests"
    )
    add_output_arguments(parser)
    args = parser.parse_args()
    setup = SimpleNamespace(
        units=16, lengths=[10, 30, 60], steps=100, epochs_per_stage=3, test_count=10_000
    )
    if args.quick:
        args.thresholds, args.slopes, args.seeds = [0.0], [5.0], 1
        setup.lengths, setup.steps, setup.epochs_per_stage, setup.test_count = [4, 6], 3, 1, 100
    final = setup.lengths[-1]

    if args.quick:
        # One annealed run as well, so that the tests cover the schedule.
        args.anneal = args.anneal[:1] or [[2.0, 10.0]]
    stages = len(setup.lengths)
    # (label, initial slope, schedule or None)
    slopes = [(f"{slope}", slope, None) for slope in args.slopes] + [
        (f"{start}->{end}", start, per_stage(start, end, stages, setup.epochs_per_stage))
        for start, end in args.anneal
    ]

    results = {}
    for threshold in args.thresholds:
        for label, slope, schedule in slopes:
            layer_arguments = {
                "surrogate_slope": slope,
                "threshold_initializer": keras.initializers.Constant(threshold),
            }
            callbacks = () if schedule is None else (SurrogateSlopeSchedule(schedule),)
            scores = [
                train("hsru", 1e-2, seed, setup, layer_arguments, None, callbacks)[2][
                    "test_accuracy"
                ][final]
                for seed in range(args.seeds)
            ]
            results[f"threshold={threshold}, slope={label}"] = scores
            solved = sum(score == 1.0 for score in scores)
            print(
                f"threshold {threshold}, slope {label}: test accuracy at L={final} per seed "
                f"{np.round(scores, 4).tolist()}, {solved}/{args.seeds} at 100%",
                flush=True,
            )
    write_json(
        args,
        "threshold_sweep",
        {
            "backend": keras.backend.backend(),
            "lengths": setup.lengths,
            "test_sequences": setup.test_count,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
