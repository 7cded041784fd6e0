"""The docs pages' runs, and their Markdown tables and figures from the JSON the runs wrote.

Each page's runs (`RUNS`) and the tables made from them are here, and only
here: `docs/regenerate.py` runs what `RUNS` lists and calls `render`. Each
`render_PAGE(load, write, figure)` gets `load(name)` (the JSON of run
`name`, which must be one of the page's runs), `write(file, text)` (a file
under `docs/generated/PAGE/`) and `figure(name, target)` (copies a run's
figure to `docs/assets/figures/target`).
"""

import os
import statistics

from keras_hsru import ops as hsru_ops

MODELS = {"hsru": "HSRU", "lstm": "LSTM", "analog_only": "AnalogOnly"}


# (name, backend, script and arguments): the runs behind each page, in order.
# `python docs/regenerate.py PAGE` runs them; the renderers below load their JSON by name.
RUNS = {
    "paper": [
        ("temporal_parity-full", "jax", ["examples/temporal_parity.py", "--full"]),
        ("delayed_echo", "jax", ["examples/delayed_echo.py"]),
        ("embedded_parity", "jax", ["examples/embedded_parity.py"]),
        (
            "embedded_parity-paper-curriculum",
            "jax",
            [
                "examples/embedded_parity.py",
                "--lengths", "10", "30", "60",
                "--epochs-per-stage", "4",
                "--distractors", "4", "16",
                "--seeds", "1",
            ],
        ),
        (
            "embedded_parity-sharpness1",
            "jax",
            [
                "examples/embedded_parity.py",
                "--attention-sharpness", "1",
                "--distractors", "16",
                "--seeds", "1",
            ],
        ),
        ("hidden_state_tsne", "jax", ["examples/hidden_state_tsne.py"]),
        ("threshold_sweep", "jax", ["examples/threshold_sweep.py"]),
        ("quickstart_parity-jax", "jax", ["examples/quickstart_parity.py"]),
        ("quickstart_parity-tensorflow", "tensorflow", ["examples/quickstart_parity.py"]),
        ("quickstart_parity-torch", "torch", ["examples/quickstart_parity.py"]),
        ("temporal_parity-tensorflow", "tensorflow", ["examples/temporal_parity.py"]),
        ("temporal_parity-torch", "torch", ["examples/temporal_parity.py"]),
    ],
    "performance": [
        (
            f"speed-cpu-{backend}",
            backend,
            [
                "benchmarks/speed.py",
                "--lengths", "256", "1024",
                "--skip-after", "60",
                "--rounds", "3",
                "--layers", "HSRU", "HSRU(scan)", "RNN(HSRUCell)", "LSTM", "GRU", "Dense",
                *(["--repeats", "1"] if backend == "torch" else []),
            ],
        )
        for backend in ("jax", "tensorflow", "torch")
    ],
    "performance-gpu": [
        (
            f"speed-gpu-{backend}",
            backend,
            [
                "benchmarks/speed.py",
                "--batch", "64", "--features", "64", "--units", "256",
                "--lengths", "1024", "4096", *(["16384"] if backend == "torch" else []),
                "--rounds", "2",
                "--skip-after", "20",
                "--layers", "HSRU", "HSRU(scan)", "LSTM", "GRU", "Dense",
            ],
        )
        for backend in ("torch", "jax")
    ]
    + [
        (
            "speed-gpu-jax-16384",
            "jax",
            [
                "benchmarks/speed.py",
                "--batch", "64", "--features", "64", "--units", "256",
                "--lengths", "16384",
                "--rounds", "2",
                "--layers", "HSRU", "HSRU(scan)",
            ],
        )
    ],
    "deploy": [
        ("quantization", "jax", ["examples/quantization.py"]),
        ("edge", "tensorflow", ["examples/edge.py"]),
    ]
    + [
        (f"streaming-{backend}", backend, ["examples/streaming.py"])
        for backend in ("jax", "tensorflow", "torch")
    ],
    "monitoring": [("spike_raster", "jax", ["examples/spike_raster.py"])]
    + [
        (f"spike_raster-target-{target}", "jax",
         ["examples/spike_raster.py", "--spike-rate-target", target])
        for target in ("0.1", "0.8")
    ]
    + [
        ("threshold_sweep-anneal", "jax",
         ["examples/threshold_sweep.py", "--thresholds", "0.5", "1.0", "--seeds", "5",
          "--slopes", "2", "5", "10", "--anneal", "2", "10", "--anneal", "10", "2"]),
    ],
    "algorithms": [],
    # One run per dataset: HSRUClassifier, HSRU, LSTM and GRU, 3 seeds each; then the
    # recipe's ablations on four datasets.
    "real-sequences": [
        (f"tsc-{dataset}", "jax",
         ["examples/time_series_classification.py", "--datasets", dataset])
        for dataset in ("ItalyPowerDemand", "GunPoint", "BasicMotions", "ArrowHead",
                        "JapaneseVowels", "PickupGestureWiimoteZ", "OSULeaf", "ACSF1")
    ]
    + [
        (f"tsc-ablations-{dataset}", "jax",
         ["examples/time_series_classification.py", "--datasets", dataset, "--models",
          "classifier-toggle", "classifier-analog", "classifier-short", "classifier-1layer",
          "classifier-last", "classifier-mean"])
        for dataset in ("ItalyPowerDemand", "GunPoint", "BasicMotions", "ArrowHead")
    ]
    # 1-NN DTW on every dataset, measured on the same inputs (no seed: one run).
    + [("tsc-dtw", "jax", ["examples/time_series_classification.py", "--models", "dtw"])]
    # What a mask costs, at PickupGestureWiimoteZ's longest length and the study's width.
    + [
        (f"masking-{backend}", backend,
         ["benchmarks/masking.py", "--batch", "32", "--features", "1", "--units", "64",
          "--lengths", "361", "--rounds", "7", "--return-sequences"])
        for backend in ("jax", "tensorflow", "torch")
    ],
    "regular-languages": [
        ("regular_languages-parity", "jax",
         ["examples/regular_languages.py", "--tasks", "parity_check", "--models", "hsru", "lstm",
          "--long-lengths", "10000", "100000"]),
        ("regular_languages-others", "jax",
         ["examples/regular_languages.py", "--models", "hsru", "lstm",
          "--tasks", "even_pairs", "cycle_navigation", "modular_arithmetic"]),
        ("regular_languages-even_pairs", "jax",
         ["examples/regular_languages.py", "--tasks", "even_pairs", "--models", "hsru", "lstm",
          "--long-lengths", "10000", "100000"]),
        ("regular_languages-counter", "jax",
         ["examples/regular_languages.py", "--models", "hsru5", "--long-lengths", "10000", "100000"]),
        ("regular_languages-width64", "jax",
         ["examples/regular_languages.py", "--units", "64", "--models", "hsru5", "lstm",
          "--tasks", "cycle_navigation", "modular_arithmetic"]),
        ("regular_languages-width256", "jax",
         ["examples/regular_languages.py", "--units", "256", "--models", "lstm",
          "--tasks", "cycle_navigation", "--long-lengths", "10000", "100000"]),
        ("regular_languages-threshold0", "jax",
         ["examples/regular_languages.py", "--models", "hsru5", "--counter-threshold", "0",
          "--tasks", "cycle_navigation"]),
        # The reset counter (memory="reset"): alone on a count, as a cascade on
        # Modular Arithmetic (the widths and k of the hand-set cascade's first two layers).
        ("regular_languages-reset-counting", "jax",
         ["examples/regular_languages.py", "--tasks", "cycle_navigation", "--models",
          "hsru_reset", "--reset-states", "5"]),
        ("regular_languages-reset-modular", "jax",
         ["examples/regular_languages.py", "--tasks", "modular_arithmetic", "--models",
          "hsru_reset", "--reset-states", "4", "4", "5", "--units", "32"]),
        # Word problems of solvable groups that are not abelian, beside the LSTM: a
        # cascade of a bit (the permutation's sign; a reflection) under a count of the
        # rotations, S3 = Z3 x| Z2 and D4 = Z4 x| Z2.
        ("regular_languages-reset-s3", "jax",
         ["examples/regular_languages.py", "--tasks", "word_problem_s3", "--models",
          "hsru_reset", "lstm", "--reset-states", "2", "3"]),
        ("regular_languages-reset-d4", "jax",
         ["examples/regular_languages.py", "--tasks", "word_problem_d4", "--models",
          "hsru_reset", "lstm", "--reset-states", "2", "4"]),
        # Z60 = Z4 x Z3 x Z5: three counts of at most 4 levels, not one of 59.
        ("regular_languages-reset-z60", "jax",
         ["examples/regular_languages.py", "--tasks", "word_problem_z60", "--models",
          "hsru_reset", "lstm", "--reset-states", "4", "3", "5"]),
        # A5, of the same order, is not solvable: the same cascade cannot hold it.
        ("regular_languages-reset-a5", "jax",
         ["examples/regular_languages.py", "--tasks", "word_problem_a5", "--models",
          "hsru_reset", "lstm", "--reset-states", "4", "3", "5"]),
    ]
    # Parity Check the paper's way (fixed lengths 10, 30, 60): its budget and learning
    # rates (900 steps of 64), then ten times the steps at AdamW's 1e-3; LSTM widths 16 to 256.
    + [
        (f"regular_languages-paper{steps}-{kind}{units}", "jax",
         ["examples/regular_languages.py", "--tasks", "parity_check", "--models", kind,
          "--units", str(units), "--train-lengths", "10", "30", "60", "--steps", str(steps),
          "--batch", "64", "--learning-rate", rates[kind], "--long-lengths", "10000", "100000"])
        for steps, rates in ((900, {"hsru": "3e-3", "lstm": "3e-2"}),
                             (9000, {"hsru": "1e-3", "lstm": "1e-3"}))
        for kind, units in (("hsru", 16), ("lstm", 16), ("lstm", 64), ("lstm", 256))
    ],
}  # fmt: skip


def runs_named(page, prefix):
    """The names of the page's runs that start with `prefix`, in the order they run."""
    return tuple(name for name, _, _ in RUNS[page] if name.startswith(prefix))


def percent(value):
    return f"{100 * value:.2f}%"


def mean_worst(stats):
    return f"{percent(stats['mean'])} / {percent(stats['worst'])}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render_paper(load, write, figure):
    full = load("temporal_parity-full")
    sweep_rows = []
    for kind, label in MODELS.items():
        scores = full["sweep"][kind]
        # (mean validation accuracy over the last stage's epochs, over all epochs)
        cells = [
            f"{percent(scores[rate][0])} / {percent(scores[rate][1])}"
            for rate in sorted(scores, key=float)
        ]
        sweep_rows.append([label, *cells, full["learning_rates"][kind]])
    rates = sorted(full["sweep"]["hsru"], key=float)
    write(
        "parity-sweep.md",
        table(["model", *(f"lr {rate}" for rate in rates), "chosen"], sweep_rows),
    )
    stage_rows = []
    for length in full["lengths"]:
        row = [f"L={length}"]
        for kind in MODELS:
            cells = full["table"][str(length)][kind]
            row += [mean_worst(cells["best_val_accuracy"]), mean_worst(cells["test_accuracy"])]
        stage_rows.append(row)
    header = ["stage"]
    for label in MODELS.values():
        header += [f"{label} best val", f"{label} test"]
    write("parity-table1.md", table(header, stage_rows))
    generalization_rows = []
    for length, result in full["generalization"].items():
        accuracies = result["accuracy"]
        generalization_rows.append(
            [
                f"{int(length):,}",
                f"{result['sequences']:,}",
                percent(statistics.mean(accuracies)),
                percent(min(accuracies)),
                f"{sum(a >= 0.99 for a in accuracies)}/{len(accuracies)}",
            ]
        )
    write(
        "parity-generalization.md",
        table(
            ["test length", "sequences per seed", "mean", "worst seed", "seeds at >= 99%"],
            generalization_rows,
        ),
    )
    hsru_final = [run["test_accuracy"][str(full["lengths"][-1])] for run in full["runs"]["hsru"]]
    write(
        "parity-summary.md",
        f"HSRU at 100% on the test sequences at L={full['lengths'][-1]} in "
        f"**{sum(a == 1.0 for a in hsru_final)}/{len(hsru_final)} seeds**; the best LSTM seed "
        f"scored {percent(max(r['test_accuracy'][str(full['lengths'][-1])] for r in full['runs']['lstm']))}, "
        f"the best AnalogOnly seed "
        f"{percent(max(r['test_accuracy'][str(full['lengths'][-1])] for r in full['runs']['analog_only']))}.\n",
    )
    figure("temporal_parity-full", "temporal-parity.png")

    backend_rows = []
    for backend in ("jax", "tensorflow", "torch"):
        run = full if backend == "jax" else load(f"temporal_parity-{backend}")
        final = str(run["lengths"][-1])
        cells = [mean_worst(run["table"][final][kind]["test_accuracy"]) for kind in MODELS]
        longest = max(run["generalization"], key=int)
        hsru_long = run["generalization"][longest]["accuracy"]
        backend_rows.append(
            [
                backend + (" (`--full`)" if backend == "jax" else ""),
                run["seeds"],
                *cells,
                f"{percent(min(hsru_long))} at L={int(longest):,}",
            ]
        )
    write(
        "parity-backends.md",
        table(
            [
                "backend",
                "seeds",
                *(f"{label} test at L=60" for label in MODELS.values()),
                "HSRU, worst seed, longest test",
            ],
            backend_rows,
        ),
    )

    echo = load("delayed_echo")
    runs = ", ".join(f"{run['test_mse']:.6f}" for run in echo["runs"])
    write(
        "delayed-echo.md",
        table(
            ["model", "L", "test sequences", "mean MSE", "worst MSE", "per seed", "paper"],
            [
                [
                    f"HSRURNN({echo['units']})",
                    echo["length"],
                    f"{echo['test_sequences']:,}",
                    f"{echo['test_mse_mean']:.6f}",
                    f"{echo['test_mse_worst']:.6f}",
                    runs,
                    echo["paper_mse"],
                ]
            ],
        ),
    )
    figure("delayed_echo", "delayed-echo.png")

    embedded = load("embedded_parity")
    rows = [
        [d, mean_worst(cells["hsru"]), mean_worst(cells["attentive"])]
        for d, cells in sorted(embedded["table"].items(), key=lambda item: int(item[0]))
    ]
    write("embedded.md", table(["distractors", "HSRU", "AttentiveHSRU"], rows))
    variant_rows = []
    for name, what in (
        ("embedded_parity-paper-curriculum", "the paper's curriculum 10 -> 30 -> 60"),
        ("embedded_parity-sharpness1", "`attention_sharpness=1`"),
    ):
        run = load(name)
        for d, cells in sorted(run["table"].items(), key=lambda item: int(item[0])):
            variant_rows.append(
                [what, d, percent(cells["hsru"]["mean"]), percent(cells["attentive"]["mean"])]
            )
    write(
        "embedded-variants.md",
        table(["variant (1 seed)", "distractors", "HSRU", "AttentiveHSRU"], variant_rows),
    )
    figure("embedded_parity", "embedded-parity.png")

    tsne = load("hidden_state_tsne")
    rows = [
        [
            f"{panel['model']}, lr {panel['learning_rate']}",
            percent(panel["test_accuracy"]),
            percent(panel["linear_probe_accuracy"]),
        ]
        for panel in tsne["panels"]
    ]
    write(
        "tsne.md",
        table(
            ["model", f"test accuracy at L={tsne['length']}", "linear probe on hidden states"], rows
        ),
    )
    figure("hidden_state_tsne", "hidden-state-tsne.png")

    render_threshold_sweep(load, write, figure)

    rows = []
    for backend in ("jax", "tensorflow", "torch"):
        run = load(f"quickstart_parity-{backend}")
        rows.append([backend, run["length"], run["epochs"], percent(run["test_accuracy"])])
    write(
        "quickstart.md",
        table(
            ["backend", "L", "epochs", f"test accuracy ({run['test_sequences']:,} sequences)"], rows
        ),
    )


SPEED_LAYERS = ("HSRU", "HSRU(scan)", "RNN(HSRUCell)", "LSTM", "GRU", "Dense")


def speed_rows(report):
    """Per length: {layer: row} of a `benchmarks/speed.py` report."""
    by_length = {}
    for row in report["results"]:
        by_length.setdefault(row["length"], {})[row["layer"]] = row
    return dict(sorted(by_length.items()))


def milliseconds(row, key):
    if row is None or "skipped" in row:
        return "skipped"
    value = 1e3 * row[key]
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def ratio(row, hsru, key):
    if row is None or "skipped" in row:
        return ""
    return f"{row[key] / hsru[key]:.2f}x"


def render_speed(report, layers=SPEED_LAYERS):
    """Train and forward milliseconds per layer and length, with each layer's time over HSRU's."""
    rows = []
    for length, by_layer in speed_rows(report).items():
        hsru = by_layer["HSRU"]
        for layer in layers:
            row = by_layer.get(layer)
            if row is None:
                continue
            rows.append(
                [
                    layer,
                    length,
                    milliseconds(row, "train_s"),
                    milliseconds(row, "forward_s"),
                    ratio(row, hsru, "train_s"),
                    ratio(row, hsru, "forward_s"),
                ]
            )
    return table(["layer", "L", "train ms", "forward ms", "train: x HSRU", "forward: x HSRU"], rows)


def speed_caption(report):
    return (
        f"B={report['batch']}, features={report['features']}, units={report['units']}; "
        f"{report['backend']} on {report['device']}"
        + (f" ({report['host']})" if "host" in report else "")
        + f", keras {report['keras']}, "
        f"median of {report['repeats']} step{'s' if report['repeats'] != 1 else ''} per round, then of {report['rounds']} rounds.\n"
    )


def render_performance(load, write, figure):
    summary = []
    for backend in ("jax", "tensorflow", "torch"):
        report = load(f"speed-cpu-{backend}")
        write(f"speed-cpu-{backend}.md", speed_caption(report) + "\n" + render_speed(report))
        for length, by_layer in speed_rows(report).items():
            hsru, lstm, cell = by_layer["HSRU"], by_layer.get("LSTM"), by_layer.get("RNN(HSRUCell)")
            summary.append(
                [
                    backend,
                    length,
                    milliseconds(hsru, "train_s"),
                    ratio(lstm, hsru, "train_s"),
                    ratio(cell, hsru, "train_s"),
                    ratio(lstm, hsru, "forward_s"),
                    ratio(cell, hsru, "forward_s"),
                ]
            )
    write(
        "speed-cpu-summary.md",
        table(
            [
                "backend",
                "L",
                "HSRU train ms",
                "LSTM, train",
                "RNN(HSRUCell), train",
                "LSTM, forward",
                "RNN(HSRUCell), forward",
            ],
            summary,
        ),
    )


def render_performance_gpu(load, write, figure):
    for backend, names in (
        ("torch", ["speed-gpu-torch"]),
        ("jax", ["speed-gpu-jax", "speed-gpu-jax-16384"]),
    ):
        reports = [load(name) for name in names]
        report = {**reports[0], "results": [row for r in reports for row in r["results"]]}
        text = speed_caption(report) + "\n" + render_speed(report)
        bound_rows = []
        for length, by_layer in speed_rows(report).items():
            hsru, dense = by_layer["HSRU"], by_layer.get("Dense")
            if "train_lower_bound_s" not in hsru:
                continue
            bound_rows.append(
                [
                    length,
                    f"{1e3 * hsru['train_s']:.2f} / {1e3 * hsru['train_lower_bound_s']:.2f} ms "
                    f"= {hsru['train_s'] / hsru['train_lower_bound_s']:.1f}x",
                    f"{1e3 * hsru['forward_s']:.2f} / {1e3 * hsru['forward_lower_bound_s']:.2f} ms "
                    f"= {hsru['forward_s'] / hsru['forward_lower_bound_s']:.1f}x",
                    ""
                    if dense is None or "skipped" in dense
                    else f"{dense['train_s'] / hsru['train_lower_bound_s']:.1f}x",
                ]
            )
        if bound_rows:
            rates = (
                f"Rates measured in the same run: {report['matmul_flops_per_s'] / 1e12:.1f} "
                f"TFLOP/s float32 matmul, {report['bandwidth_bytes_per_s'] / 1e12:.2f} TB/s copy.\n"
            )
            text += (
                "\n"
                + rates
                + "\n"
                + table(
                    [
                        "L",
                        "HSRU train: measured / bound",
                        "forward: measured / bound",
                        "Dense row / HSRU bound (train)",
                    ],
                    bound_rows,
                )
            )
        write(f"speed-gpu-{backend}.md", text)


def render_deploy(load, write, figure):
    render_quantization(load, write, figure)
    render_edge(load, write, figure)
    rows = []
    for backend in ("jax", "tensorflow", "torch"):
        for row in load(f"streaming-{backend}")["rows"]:
            rows.append(
                [
                    backend,
                    row["layer"],
                    row["chunk"],
                    f"{row['stream']:,}",
                    percent(row["accuracy"]),
                    f"{row['p50_ms']:.3f}",
                    f"{row['p99_ms']:.3f}",
                    f"{row['steps_per_s']:,.0f}",
                ]
            )
    write(
        "streaming.md",
        table(
            [
                "backend",
                "layer",
                "steps per call",
                "stream",
                "answers correct",
                "p50 ms per call",
                "p99 ms per call",
                "steps per second",
            ],
            rows,
        ),
    )


def quantization_table(report):
    """float32 against int8 weights: mean accuracy over seeds, weight bytes, latency."""
    runs = report["runs"]
    models = list(dict.fromkeys(run["model"] for run in runs))
    rows = []
    for model in models:
        mine = [run for run in runs if run["model"] == model]
        scores = [key for key in mine[0] if key.startswith(("parity", "test"))]
        latency = {
            kind: [
                r["predict_on_batch_seconds"]
                for r in mine
                if r["weights"] == kind and "predict_on_batch_seconds" in r
            ]
            for kind in ("float32", "int8")
        }
        for kind in ("float32", "int8"):
            chosen = [run for run in mine if run["weights"] == kind]
            cells = [
                ", ".join(
                    f"{key.removeprefix('parity ')}: {100 * statistics.mean(r[key] for r in chosen):.1f}"
                    for key in scores
                ),
                f"{chosen[0]['weight_bytes']:,}",
                (
                    f"{1000 * statistics.mean(latency[kind]):.1f}"
                    + (
                        f" ({statistics.mean(latency['int8']) / statistics.mean(latency['float32']):.2f}x)"
                        if kind == "int8"
                        else ""
                    )
                    if latency[kind]
                    else "-"
                ),
            ]
            rows.append([model, kind, *cells])
    seeds = len({run["seed"] for run in runs})
    return table(
        [
            "model",
            "weights",
            f"test accuracy (%), mean of {seeds} seeds",
            "weight bytes",
            f"ms per `predict_on_batch`, 1 x {report['latency_length']:,} steps",
        ],
        rows,
    )


def answers(row):
    """The fraction of answers right, and the first steps answered wrong."""
    wrong = row["wrong_steps"]
    if not wrong:
        return percent(row["accuracy"])
    shown = ", ".join(map(str, wrong[:5])) + (", ..." if len(wrong) > 5 else "")
    return f"{percent(row['accuracy'])} (wrong at steps {shown})"


def edge_table(report):
    """One stream, one step per call, in each runtime: answers, latency, file size."""
    rows = [
        [
            row["runtime"],
            row["weights"],
            answers(row),
            f"{row['p50_ms']:.3f}",
            f"{row['p99_ms']:.3f}",
            "-" if row["file_bytes"] is None else f"{row['file_bytes']:,}",
        ]
        for row in report["rows"]
    ]
    text = table(
        [
            "runtime",
            "HSRU kernels",
            f"answers correct ({report['rows'][0]['steps']:,} steps)",
            "p50 ms per step",
            "p99 ms per step",
            "exported file, bytes",
        ],
        rows,
    )
    if report["unavailable"]:
        text += (
            "\nNot offered on this backend: "
            + "; ".join(f"{name}: {reason}" for name, reason in report["unavailable"].items())
            + "\n"
        )
    return text


def render_edge(load, write, figure):
    write("edge.md", edge_table(load("edge")))


def render_quantization(load, write, figure):
    write("quantization.md", quantization_table(load("quantization")))


def render_threshold_sweep(load, write, figure):
    write("threshold-sweep.md", sweep_table(load("threshold_sweep")))


def sweep_table(sweep):
    """examples/threshold_sweep.py's results, a row per threshold and slope (or schedule)."""
    rows = []
    for setting, scores in sweep["results"].items():
        threshold, slope = (part.split("=")[1] for part in setting.split(", "))
        slope = slope.replace("->", " → ") + (" per stage" if "->" in slope else "")
        perfect = sum(score == 1.0 for score in scores)
        rows.append(
            [threshold, slope, ", ".join(percent(s) for s in scores), f"{perfect}/{len(scores)}"]
        )
    return table(
        ["initial threshold", "surrogate slope", "test accuracy per seed", "seeds at 100%"], rows
    )


def render_monitoring(load, write, figure):
    write("slope-annealing.md", sweep_table(load("threshold_sweep-anneal")))
    run = load("spike_raster")
    history = run["history"]
    rows = [
        [
            epoch + 1,
            length,
            percent(history["val_accuracy"][epoch]),
            f"{history['recurrent_0/spike_rate'][epoch]:.3f}",
            f"{history['recurrent_0/memory_rate'][epoch]:.3f}",
        ]
        for epoch, length in enumerate(history["sequence_length"])
    ]
    write(
        "spike-rates.md",
        table(["epoch", "sequence length", "val accuracy", "spike rate", "memory rate"], rows)
        + f"\nTest accuracy at L={run['test_length']} (1,000 sequences): "
        f"{percent(run['test_accuracy'])}; the answer after each prefix of the drawn sequence "
        f"is its parity at {percent(run['prefix_answers_correct'])} of its "
        f"{run['test_length']} steps. On it, {len(run['clock_units'])} of the "
        f"{run['units']} units fire at 95% of the steps or more (clocks: units "
        f"{', '.join(map(str, run['clock_units'])) or 'none'}), and "
        f"{len(run['counter_units'])} fire at the input's ones, or at its zeros, at 95% of "
        f"the steps or more (counters: units {', '.join(map(str, run['counter_units'])) or 'none'}).\n",
    )
    figure("spike_raster", "spike-raster.png")
    rows = []
    for name in ("spike_raster", "spike_raster-target-0.1", "spike_raster-target-0.8"):
        run = load(name)
        history = run["history"]
        target = run["spike_rate_target"]
        rows.append(
            [
                "none" if target is None else f"{target} (weight {run['spike_rate_weight']:g})",
                f"{history['recurrent_0/spike_rate'][-1]:.3f}",
                percent(history["val_accuracy"][-1]),
                percent(run["test_accuracy"]),
            ]
        )
    write(
        "spike-rate-targets.md",
        table(
            [
                "spike rate target",
                "spike rate, last epoch",
                "val accuracy, last epoch",
                f"test accuracy at L={run['test_length']}",
            ],
            rows,
        ),
    )


def render_algorithms(load, write, figure):
    pass  # docs/generated/algorithms.md is written for every page


TASK_NAMES = {
    "parity_check": "Parity Check",
    "even_pairs": "Even Pairs",
    "cycle_navigation": "Cycle Navigation",
    "modular_arithmetic": "Modular Arithmetic (Simple)",
    "word_problem_z60": "Word problem, Z60",
    "word_problem_s3": "Word problem, S3",
    "word_problem_d4": "Word problem, D4",
    "word_problem_a5": "Word problem, A5",
}


def model_label(model, units, counter_threshold=None, reset_states=()):
    """`HSRU(16)`, `HSRU(16, memory_states=5)`, `LSTM(16)`; a counter's initial
    threshold where the run set one; a reset cascade's layers."""
    if model == "hsru_reset":
        layers = ", ".join(
            f"HSRU({units}, memory='reset', memory_states={k})" for k in reset_states
        )
        return layers if len(reset_states) == 1 else f"cascade: {layers}"
    if model == "hsru5":
        threshold = (
            "" if counter_threshold is None else f", initial threshold {counter_threshold:g}"
        )
        return f"HSRU({units}, memory_states=5{threshold})"
    return f"{MODELS[model]}({units})"


# The runs of each table of the Regular languages page: the 16-unit study, and
# its variants (a width sweep, a counter's initial threshold).
REGULAR_LANGUAGE_RUNS = {
    "scores.md": (
        "regular_languages-parity",
        "regular_languages-others",
        "regular_languages-even_pairs",
        "regular_languages-counter",
    ),
    "variants.md": (
        "regular_languages-width64",
        "regular_languages-width256",
        "regular_languages-threshold0",
    ),
}
MODEL_ORDER = ("hsru", "hsru5", "hsru_reset", "lstm")
# The reset counter's runs, each a table of its own (reset-NAME.md).
RESET_RUNS = (
    "regular_languages-reset-counting",
    "regular_languages-reset-modular",
    "regular_languages-reset-s3",
    "regular_languages-reset-d4",
    "regular_languages-reset-z60",
    "regular_languages-reset-a5",
)


def per_seed(accuracies):
    """A cell of one accuracy per seed."""
    return ", ".join(percent(a) for a in accuracies)


def per_seed_steps(row):
    """A cell of each seed's steps to 99%, "not reached" where it did not."""
    return ", ".join("not reached" if s is None else str(s) for s in row["steps_to_99"])


def regular_languages_table(runs):
    """One row per task, model and width of `runs`, in task order; where two runs
    measured the same, the later run's row (a newer result replaces an older one)."""
    # Every long length any run tested, a column each ("-" where a run did not).
    long = sorted({n for run in runs for n in run["long_lengths"]})
    tasks = list(TASK_NAMES)
    keyed = {}
    for run in runs:
        first, last = run["test_lengths"]
        for row in run["summary"]:
            # Each row's width and counts (a task's recipe), or the run's (older files).
            units = row.get("units", run["units"])
            key = (
                tasks.index(row["task"]),
                MODEL_ORDER.index(row["model"]),
                units,
                run.get("counter_threshold") is not None,
            )
            keyed[key] = [
                TASK_NAMES[row["task"]],
                model_label(
                    row["model"],
                    units,
                    run.get("counter_threshold"),
                    row.get("reset_states") or run.get("reset_states") or (),
                ),
                row["parameters"],
                percent(row["score_max"]),
                percent(row["score_mean"]),
                *(
                    per_seed(row[f"accuracy_at_{n}"]) if f"accuracy_at_{n}" in row else "-"
                    for n in long
                ),
                per_seed_steps(row),
                f"{row['train_seconds_mean']:.0f}",
            ]
    header = [
        "task",
        "model",
        "parameters",
        f"score (L={first}..{last}), best seed",
        "score, mean over seeds",
        *(f"accuracy at L={n:,}, per seed" for n in long),
        "steps to 99% training accuracy, per seed",
        "training s (mean)",
    ]
    return table(header, [keyed[key] for key in sorted(keyed)])


# Parity Check the paper's way (RUNS' regular_languages-paper* runs), in
# the order of the page's table: the paper's budget, then ten times the steps.
PAPER_RECIPE_RUNS = runs_named("regular-languages", "regular_languages-paper")


def paper_recipe_table(runs):
    """One row per run: its budget and rate, and what each seed learnt at the training
    length, one step beyond it, over the test lengths and far beyond."""
    long = sorted({n for run in runs for n in run["long_lengths"]})
    rows = []
    for run in runs:
        (row,) = run["summary"]
        rows.append(
            [
                model_label(row["model"], row.get("units", run["units"])),
                row["parameters"],
                f"{run['steps']:,}",
                f"{run['learning_rate']:.0e}".replace("e-0", "e-"),
                *(
                    per_seed(seed["test_accuracy"][str(n)] for seed in run["runs"])
                    for n in (60, 61)
                ),
                percent(row["score_max"]),
                percent(row["score_mean"]),
                *(per_seed(row[f"accuracy_at_{n}"]) for n in long),
                per_seed_steps(row),
                f"{row['train_seconds_mean']:.0f}",
            ]
        )
    first, last = runs[0]["test_lengths"]
    header = [
        "model",
        "parameters",
        "steps",
        "learning rate",
        "accuracy at L=60, per seed",
        "accuracy at L=61, per seed",
        f"score (L={first}..{last}), best seed",
        "score, mean over seeds",
        *(f"accuracy at L={n:,}, per seed" for n in long),
        "steps to 99% training accuracy at L=60, per seed",
        "training s (mean)",
    ]
    return table(header, rows)


def render_paper_recipe(load, write, figure):
    write("paper-recipe.md", paper_recipe_table([load(name) for name in PAPER_RECIPE_RUNS]))


def reset_renderer(name):
    """Renders the reset counter's run `name` alone, as `reset-...md`."""

    def render(load, write, figure):
        write(name.replace("regular_languages-", "") + ".md", regular_languages_table([load(name)]))

    return render


def render_regular_languages(load, write, figure):
    for target, names in REGULAR_LANGUAGE_RUNS.items():
        write(target, regular_languages_table([load(name) for name in names]))
    render_paper_recipe(load, write, figure)
    for name in RESET_RUNS:
        reset_renderer(name)(load, write, figure)


# The Real sequences page: one run per dataset (RUNS' tsc-*), and the
# recipe's ablations on four of them.
REAL_DATASETS = (
    "GunPoint",
    "ItalyPowerDemand",
    "ArrowHead",
    "OSULeaf",
    "ACSF1",
    "BasicMotions",
    "JapaneseVowels",
    "PickupGestureWiimoteZ",
)
REAL_MODELS = {"classifier": "HSRUClassifier", "hsru": "HSRU", "lstm": "LSTM", "gru": "GRU"}
ABLATIONS = {
    "classifier": "recipe",
    "classifier-toggle": "XOR bit (toggle) instead of latch",
    "classifier-analog": "no spikes, no D (AnalogOnlyCell)",
    "classifier-short": "time constants 0.5-8 steps",
    "classifier-1layer": "one layer",
    "classifier-last": "last step alone read out",
    "classifier-mean": "mean over time alone read out",
}
ABLATION_DATASETS = ("ItalyPowerDemand", "GunPoint", "BasicMotions", "ArrowHead")
# Published test accuracies (%) on the same default train/test splits, each read from
# its source (the page names them): 1-NN DTW (full window) and LSTM-FCN from
# titu1994/LSTM-FCN Results/train_loss_old_datasets.csv; ROCKET from angus924/rocket
# results/results_ucr.csv; InceptionTime from hfawaz/InceptionTime
# results-InceptionTime-128.csv; HIVE-COTE 2 from aeon's wheel,
# aeon/testing/example_results_files/classification/accuracy/HC2_accuracy.csv (resample
# 0); FCN, ResNet and the echo-state network (TWIESN) from hfawaz/dl-4-tsc
# results/results-mts-avg-std.csv.
PUBLISHED = {
    "1-NN DTW": {"GunPoint": 90.7, "ItalyPowerDemand": 95.0, "ArrowHead": 66.3, "OSULeaf": 59.1},
    "LSTM-FCN": {"GunPoint": 100.0, "ItalyPowerDemand": 96.2, "ArrowHead": 89.7, "OSULeaf": 98.3},
    "ROCKET": {
        "GunPoint": 100.0,
        "ItalyPowerDemand": 97.0,
        "ArrowHead": 81.4,
        "OSULeaf": 94.1,
        "ACSF1": 88.6,
        "PickupGestureWiimoteZ": 83.0,
    },
    "InceptionTime": {
        "GunPoint": 100.0,
        "ItalyPowerDemand": 96.5,
        "ArrowHead": 84.6,
        "OSULeaf": 94.2,
        "ACSF1": 92.0,
        "PickupGestureWiimoteZ": 76.0,
    },
    "HIVE-COTE 2": {
        "GunPoint": 100.0,
        "ItalyPowerDemand": 97.0,
        "ArrowHead": 86.9,
        "OSULeaf": 96.7,
        "ACSF1": 91.0,
    },
    "FCN": {"JapaneseVowels": 99.3},
    "ResNet": {"JapaneseVowels": 99.2},
    "echo-state network": {"JapaneseVowels": 96.5},
}


def _real_runs(load, names):
    """Every run of `names` that has been run, and the names that have not."""
    runs, missing = [], []
    for name in names:
        try:
            runs.append(load(name))
        except (FileNotFoundError, ValueError):
            missing.append(name)
    return runs, missing


def _accuracies(runs, dataset, model, key="test_accuracy"):
    return [
        r[key]
        for run in runs
        for r in run["runs"]
        if r["dataset"] == dataset and r["model"] == model
    ]


def _mean_percent(values):
    return f"{100 * statistics.mean(values):.1f}" if values else "-"


def real_sequences_tables(runs, dtw_runs=()):
    """The main table (mean test accuracy over seeds, per dataset and model, and the
    time per epoch) and the table beside the published accuracies, with 1-NN DTW as
    measured here (`dtw_runs`) beside its published figures."""
    datasets = {}
    for run in runs:
        datasets.update(run["datasets"])
    order = [d for d in REAL_DATASETS if d in datasets]
    rows, means = [], {model: [] for model in REAL_MODELS}
    for dataset in order:
        info = datasets[dataset]
        length = (
            str(info["max_length"])
            if info["min_length"] == info["max_length"]
            else f"{info['min_length']}-{info['max_length']}"
        )
        channels = "" if info["channels"] == 1 else f"{info['channels']} x "
        scores = {model: _accuracies(runs, dataset, model) for model in REAL_MODELS}
        for model, values in scores.items():
            if values:
                means[model].append(statistics.mean(values))
        best_baseline = max(statistics.mean(scores[m]) for m in ("lstm", "gru") if scores[m])
        gap = 100 * (statistics.mean(scores["classifier"]) - best_baseline)
        times = {
            model: statistics.mean(_accuracies(runs, dataset, model, "seconds_per_epoch"))
            for model in ("classifier", "lstm")
        }
        epochs = {r["epochs"] for run in runs for r in run["runs"] if r["dataset"] == dataset}
        rows.append(
            [
                f"{dataset} ({info['train']}/{info['test']}, {channels}{length}, "
                f"{info['classes']} classes; {', '.join(map(str, sorted(epochs)))} epochs)",
                *(
                    f"**{_mean_percent(scores[m])}**"
                    if m == "classifier"
                    else _mean_percent(scores[m])
                    for m in REAL_MODELS
                ),
                f"{gap:+.1f}",
                ", ".join(f"{100 * a:.1f}" for a in scores["classifier"]),
                _mean_percent(_accuracies(runs, dataset, "classifier", "train_accuracy")),
                f"{1000 * times['classifier']:.0f} / {1000 * times['lstm']:.0f}",
            ]
        )
    rows.append(
        [
            f"mean over {len(order)} datasets",
            *(
                f"**{100 * statistics.mean(v):.1f}**"
                if m == "classifier"
                else f"{100 * statistics.mean(v):.1f}"
                for m, v in means.items()
            ),
            "",
            "",
            "",
            "",
        ]
    )
    main = table(
        [
            "dataset (train/test cases, length, classes; epochs)",
            *(f"{label}(64)" for label in REAL_MODELS.values()),
            "HSRUClassifier - best of LSTM, GRU",
            "HSRUClassifier per seed",
            "HSRUClassifier train acc.",
            "ms per epoch, HSRUClassifier / LSTM",
        ],
        rows,
    )
    anchors = [name for name in PUBLISHED if any(d in PUBLISHED[name] for d in order)]
    measured = ["1-NN DTW, measured here"] if dtw_runs else []
    published_rows = [
        [
            dataset,
            _mean_percent(_accuracies(runs, dataset, "classifier")),
            *([_mean_percent(_accuracies(dtw_runs, dataset, "dtw"))] if dtw_runs else []),
            *(
                f"{PUBLISHED[name][dataset]:.1f}" if dataset in PUBLISHED[name] else "-"
                for name in anchors
            ),
        ]
        for dataset in order
    ]
    published = table(
        ["dataset", "HSRUClassifier (mean of 3 seeds)", *measured, *anchors],
        published_rows,
    )
    return main, published


def ablation_table(runs):
    rows = []
    for dataset in ABLATION_DATASETS:
        cells = [_mean_percent(_accuracies(runs, dataset, model)) for model in ABLATIONS]
        # The recipe comes from the main runs: a row needs an ablation run.
        if any(cell != "-" for cell in cells[1:]):
            rows.append([dataset, *cells])
    return table(["dataset", *ABLATIONS.values()], rows)


def render_real_sequences(load, write, figure):
    runs, missing = _real_runs(load, [f"tsc-{d}" for d in REAL_DATASETS])
    ablations, missing_ablations = _real_runs(
        load, [f"tsc-ablations-{d}" for d in ABLATION_DATASETS]
    )
    dtw, missing_dtw = _real_runs(load, ["tsc-dtw"])
    main, published = real_sequences_tables(runs, dtw)
    missing_ablations += missing_dtw
    note = ""
    if missing or missing_ablations:
        note = (
            "\nNot run yet, so not in the tables: "
            + ", ".join(f"`{name}`" for name in missing + missing_ablations)
            + ".\n"
        )
    write("results.md", main + note)
    write("published.md", published)
    write("ablations.md", ablation_table(runs + ablations))
    render_masking(load, write, figure)


MASKING_RUNS = runs_named("real-sequences", "masking-")


def render_masking(load, write, figure):
    """The train step on a padded batch, masked at the end or the start, against unmasked."""
    reports, missing = _real_runs(load, MASKING_RUNS)
    rows = []
    for report in reports:
        by_layer = {}
        for row in report["results"]:
            by_layer.setdefault(row["layer"], {})[row["padding"]] = row
        for layer, paddings in by_layer.items():
            rows.append(
                [
                    report["backend"],
                    layer,
                    f"{1000 * paddings['unmasked']['train_s']:.1f}",
                    f"{paddings['right']['x_unmasked']:.2f}",
                    f"{paddings['left']['x_unmasked']:.2f}",
                ]
            )
    text = table(
        [
            "backend",
            "layer",
            "unmasked, ms per train step",
            "padded at the end, x unmasked",
            "padded at the start, x unmasked",
        ],
        rows,
    )
    if reports:
        first = reports[0]
        text = (
            f"Batch {first['batch']}, {first['features']} feature, {first['units']} units, "
            f"length {first['results'][0]['length']} (sequence lengths "
            f"{first['results'][0]['mean_length']:.0f} on average), outputs at every step "
            f"averaged over time; median over {first['rounds']} rounds of "
            f"{first['repeats']} steps; {first.get('host', 'this machine')}.\n\n" + text
        )
    if missing:
        text += "\nNot run yet: " + ", ".join(f"`{name}`" for name in missing) + ".\n"
    write("masking.md", text)


RENDERERS = {
    "paper": render_paper,
    "performance": render_performance,
    "performance-gpu": render_performance_gpu,
    "deploy": render_deploy,
    "monitoring": render_monitoring,
    "algorithms": render_algorithms,
    "regular-languages": render_regular_languages,
    "real-sequences": render_real_sequences,
}


# Runs whose tables can be rendered alone (`regenerate.py PAGE --only RUN`), without the
# page's other runs' outputs.
RUN_RENDERERS = {
    ("paper", "threshold_sweep"): render_threshold_sweep,
    ("deploy", "quantization"): render_quantization,
    ("deploy", "edge"): render_edge,
    **{("regular-languages", name): render_paper_recipe for name in PAPER_RECIPE_RUNS},
    **{("regular-languages", name): reset_renderer(name) for name in RESET_RUNS},
    **{("real-sequences", name): render_masking for name in MASKING_RUNS},
}


def render(page, load, generated, figures, find_figure, only=None):
    """Writes the page's tables under `generated/page/` and its figures under `figures`;
    with `only` (run names that all have a `RUN_RENDERERS` entry), only those runs' tables."""

    def write(name, text):
        with open(os.path.join(generated, page, name), "w") as f:
            f.write(text)

    def figure(run, target):
        import shutil

        shutil.copyfile(find_figure(run), os.path.join(figures, target))

    declared = [name for name, _, _ in RUNS[page]]

    def load_declared(name):
        # A KeyError, which no renderer takes for a run not run yet.
        if name not in declared:
            raise KeyError(f"{name!r} is not one of the {page} page's runs: {declared}")
        return load(name)

    if only is not None and all((page, name) in RUN_RENDERERS for name in only):
        for name in only:
            RUN_RENDERERS[page, name](load_declared, write, figure)
    else:
        RENDERERS[page](load_declared, write, figure)
    with open(os.path.join(generated, "algorithms.md"), "w") as f:
        f.write(hsru_ops.algorithm_table())
    with open(os.path.join(generated, "plans.md"), "w") as f:
        f.write(hsru_ops.plan_table())
