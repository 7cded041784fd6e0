"""The paper's Figures 3-5: t-SNE of the final hidden states of parity models, coloured by class.

Trains models on temporal parity exactly as `examples/temporal_parity.py` does
(curriculum 10 -> 30 -> 60), here HSRU at two learning rates (as the paper's
figures) and the LSTM baseline, then embeds the last recurrent layer's final output on 1,000 fresh
test sequences at L=60 with scikit-learn's t-SNE. Beside each panel: the
model's test accuracy, and how linearly separable the hidden states are (a
logistic regression fit on half the sequences, scored on the other half).

    KERAS_BACKEND=jax python examples/hidden_state_tsne.py            # ~2 minutes on 2 CPU cores
    KERAS_BACKEND=torch python examples/hidden_state_tsne.py --quick  # a smoke run
"""

import argparse
from types import SimpleNamespace

import keras
import numpy as np
from _outputs import add_output_arguments, output_file, write_json
from _parity import LABELS, LEARNING_RATES, train
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE

# HSRU at its swept rate and at a 10x higher one (both reach 100% in the
# sweep), and the LSTM at its swept rate.
PANELS = (
    ("hsru", LEARNING_RATES["hsru"]),
    ("hsru", 10 * LEARNING_RATES["hsru"]),
    ("lstm", LEARNING_RATES["lstm"]),
)


def hidden_states(model, test, count, length):
    x, y = test.sample(count, length=length, seed=0)
    states = keras.ops.convert_to_numpy(model.encode(x))
    return states.astype(np.float64), y[:, 0].astype(int)


def linear_separability(states, labels):
    half = len(labels) // 2
    probe = LogisticRegression(max_iter=2000).fit(states[:half], labels[:half])
    return float(probe.score(states[half:], labels[half:]))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a few steps, for tests")
    add_output_arguments(parser)
    args = parser.parse_args()
    setup = SimpleNamespace(
        units=16, lengths=[10, 30, 60], steps=100, epochs_per_stage=3, test_count=10_000
    )
    count = 1_000
    if args.quick:
        setup.lengths, setup.steps, setup.epochs_per_stage, setup.test_count = [4, 6], 3, 1, 100
        count = 60
    backend = keras.backend.backend()
    length = setup.lengths[-1]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PANELS), figsize=(4 * len(PANELS), 3.8))
    results = []
    for ax, (kind, learning_rate) in zip(axes, PANELS):
        model, test, run = train(kind, learning_rate, args.seed, setup)
        states, labels = hidden_states(model, test, count, length)
        separability = linear_separability(states, labels)
        embedded = TSNE(
            n_components=2, perplexity=min(30, count // 4), random_state=args.seed
        ).fit_transform(states)
        accuracy = run["test_accuracy"][length]
        for label, name in ((0, "even"), (1, "odd")):
            points = embedded[labels == label]
            ax.scatter(points[:, 0], points[:, 1], s=4, label=name, alpha=0.7)
        ax.set_title(
            f"{LABELS[kind]} lr={learning_rate:g}, L={length}\n"
            f"test acc {100 * accuracy:.1f}%, linear probe {100 * separability:.1f}%",
            fontsize=9,
        )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=8, markerscale=3)
        results.append(
            {
                "model": LABELS[kind],
                "learning_rate": learning_rate,
                "test_accuracy": accuracy,
                "linear_probe_accuracy": separability,
            }
        )
        print(
            f"{LABELS[kind]} lr={learning_rate:g}: test accuracy {accuracy:.4f} at L={length}, "
            f"linear probe on hidden states {separability:.4f}",
            flush=True,
        )
    fig.tight_layout()
    figure = output_file(args, "hidden_state_tsne", "png")
    fig.savefig(figure, dpi=70)
    plt.close(fig)
    print(f"figure: {figure}")
    write_json(
        args,
        "hidden_state_tsne",
        {
            "backend": backend,
            "length": length,
            "sequences": count,
            "seed": args.seed,
            "panels": results,
            "figure": figure,
        },
    )


if __name__ == "__main__":
    main()
