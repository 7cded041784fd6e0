"""The paper's limitation and its proposed fix: parity embedded among distractor features.

The parity bit stream is one feature among `d` random bit streams that look
exactly like it (`keras_hsru.tasks.EmbeddedParity`). The paper found HSRU at
chance for any input width above one, and proposed a feature-attention gate in
front of the input projection; `keras_hsru.AttentiveHSRU` is that layer.

Both models train the same way: the curriculum 1 -> 2 -> 4 -> 10 -> 30 -> 60
(`keras_hsru.callbacks.Curriculum`; the short stages give the gate a learning
signal: at L=1 the label is the signal bit itself), AdamW with global
clipnorm 1.0. Scored on 10,000 fresh test sequences at L=60, per distractor
count, mean and worst over seeds.

    KERAS_BACKEND=jax python examples/embedded_parity.py            # ~25 min on 2 CPU cores
    KERAS_BACKEND=jax python examples/embedded_parity.py --distractors 16 --seeds 1
    KERAS_BACKEND=torch python examples/embedded_parity.py --quick  # a smoke run
"""

import argparse

import keras
import numpy as np
from _outputs import add_output_arguments, output_file, write_json

from keras_hsru.callbacks import Curriculum
from keras_hsru.models import HSRURNN
from keras_hsru.tasks import EmbeddedParity

VARIANTS = {"hsru": "HSRU", "attentive": "AttentiveHSRU"}


def train(variant, distractors, seed, args):
    keras.utils.set_random_seed(seed)
    layer_arguments = None
    if variant == "attentive":
        layer_arguments = {"attention_sharpness": args.attention_sharpness}
    model = HSRURNN(args.units, variant=variant, layer_arguments=layer_arguments)
    model.compile(
        keras.optimizers.AdamW(args.learning_rate, global_clipnorm=1.0),
        "binary_crossentropy",
        metrics=["accuracy"],
    )
    task = EmbeddedParity(
        args.lengths[0], distractors=distractors, steps_per_epoch=args.steps, seed=seed
    )
    curriculum = Curriculum(task, lengths=args.lengths, epochs_per_stage=args.epochs_per_stage)
    model.fit(
        task, epochs=args.epochs_per_stage * len(args.lengths), callbacks=[curriculum], verbose=0
    )
    accuracy = task.evaluate(model, args.test_count, length=args.lengths[-1], seed=seed + 10_000)
    gate = None
    if variant == "attentive":
        gate = keras.ops.convert_to_numpy(model.recurrent_layers[0].cell.attention()).tolist()
    return accuracy["accuracy"], gate


def plot(table, distractor_counts, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    for variant, label in VARIANTS.items():
        means = [table[d][variant]["mean"] for d in distractor_counts]
        worst = [table[d][variant]["worst"] for d in distractor_counts]
        ax.plot(distractor_counts, means, "o-", label=f"{label} (mean)")
        ax.plot(
            distractor_counts, worst, "x:", color=ax.lines[-1].get_color(), label=f"{label} (worst)"
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("distractor features")
    ax.set_ylabel("test accuracy at L=60")
    ax.set_ylim(0.4, 1.02)
    ax.legend(fontsize=8)
    ax.set_title("Embedded parity")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--distractors", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1, 2, 4, 10, 30, 60])
    parser.add_argument("--epochs-per-stage", type=int, default=2)
    parser.add_argument("--attention-sharpness", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="a few steps, for tests")
    add_output_arguments(parser)
    args = parser.parse_args()
    args.steps, args.test_count = 100, 10_000
    if args.quick:
        args.distractors, args.seeds = [1, 2], 1
        args.lengths, args.steps, args.epochs_per_stage, args.test_count = [1, 3], 3, 1, 100
    backend = keras.backend.backend()

    table, gates = {}, {}
    for distractors in args.distractors:
        table[distractors] = {}
        for variant, label in VARIANTS.items():
            accuracies = []
            for seed in range(args.seeds):
                accuracy, gate = train(variant, distractors, seed, args)
                accuracies.append(accuracy)
                if gate is not None:
                    gates[f"{distractors}/{seed}"] = gate
                print(f"d={distractors} {label} seed {seed}: {accuracy:.4f}", flush=True)
            table[distractors][variant] = {
                "mean": float(np.mean(accuracies)),
                "worst": float(np.min(accuracies)),
                "accuracy": accuracies,
            }

    final = args.lengths[-1]
    print(
        f"\nEmbedded parity at L={final}, {backend}, test accuracy mean / worst over {args.seeds} seeds"
    )
    print("| distractors | " + " | ".join(VARIANTS.values()) + " |")
    print("|---" * (len(VARIANTS) + 1) + "|")
    for distractors, row in table.items():
        cells = [f"{100 * row[v]['mean']:.2f}% / {100 * row[v]['worst']:.2f}%" for v in VARIANTS]
        print(f"| {distractors} | " + " | ".join(cells) + " |")
    figure = output_file(args, "embedded_parity", "png")
    plot(table, args.distractors, figure)
    print(f"figure: {figure}")
    write_json(
        args,
        "embedded_parity",
        {
            "backend": backend,
            "lengths": args.lengths,
            "epochs_per_stage": args.epochs_per_stage,
            "steps_per_epoch": args.steps,
            "learning_rate": args.learning_rate,
            "attention_sharpness": args.attention_sharpness,
            "units": args.units,
            "test_sequences": args.test_count,
            "table": {str(d): row for d, row in table.items()},
            "attention_weights": gates,
            "figure": figure,
        },
    )


if __name__ == "__main__":
    main()
