"""Re-runs the experiments behind a docs page and rewrites its tables and figures.

    python docs/regenerate.py paper            # Reproducing the paper (mostly JAX; 2 CPU cores: ~1 h)
    python docs/regenerate.py performance      # Performance: the CPU tables, all three backends
    python docs/regenerate.py performance-gpu  # Performance: the GPU tables (on a CUDA machine)
    python docs/regenerate.py deploy           # Deploy and scale: the streaming table
    python docs/regenerate.py monitoring       # Monitoring and surrogates (JAX; 2 CPU cores: ~5 min)
    python docs/regenerate.py algorithms       # How it works: the table of algorithms
    python docs/regenerate.py regular-languages  # Regular languages (JAX; 2 CPU cores: ~3 h)
    python docs/regenerate.py real-sequences   # Real sequences (JAX; 2 CPU cores: hours)
    python docs/regenerate.py paper --render-only   # the tables again from the last run's outputs

Each page's runs write their raw output (logs, JSON, figures) under the
untracked `outputs/docs/PAGE/NAME/`; the tables go to `docs/generated/PAGE/*.md`,
which the page includes, with `commands.md` listing the runs, and the figures
it shows to `docs/assets/figures/`. `--only NAME ...` re-runs some of a page's
runs and renders the page from those and the earlier outputs; a run with a
table of its own (`renderers.RUN_RENDERERS`, e.g. `paper --only
threshold_sweep`) rewrites only that table, so it needs no other outputs.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUTS = os.path.join(ROOT, "outputs", "docs")
GENERATED = os.path.join(ROOT, "docs", "generated")
FIGURES = os.path.join(ROOT, "docs", "assets", "figures")

# (name, backend, script and arguments): the runs behind each page, in order.
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
          "classifier-mean"])
        for dataset in ("ItalyPowerDemand", "GunPoint", "BasicMotions", "ArrowHead")
    ]
    # What a mask costs, at PickupGestureWiimoteZ's longest length and the study's width.
    + [
        (f"masking-{backend}", backend,
         ["benchmarks/masking.py", "--batch", "32", "--features", "1", "--units", "64",
          "--lengths", "361", "--rounds", "3", "--return-sequences"])
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


def run(page, name, backend, command):
    """Runs one command, its stdout and stderr to outputs/docs/PAGE/NAME.txt."""
    directory = os.path.join(OUTPUTS, page, name)
    os.makedirs(directory, exist_ok=True)
    script, *arguments = command
    if script.startswith("examples/"):
        arguments += ["--output-dir", directory]
    else:
        arguments += ["--json", os.path.join(directory, f"{name}.json")]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    log = os.path.join(directory, "log.txt")
    print(f"[{time.strftime('%H:%M:%S')}] KERAS_BACKEND={backend} python {script} "
          f"{' '.join(arguments)} > {os.path.relpath(log, ROOT)}", flush=True)  # fmt: skip
    start = time.time()
    with open(log, "w") as f:
        subprocess.run(
            [sys.executable, script, *arguments], cwd=ROOT, env=env, stdout=f,
            stderr=subprocess.STDOUT, check=True,
        )  # fmt: skip
    print(f"  done in {time.time() - start:.0f} s", flush=True)


def command_line(name, backend, command):
    """The command as a user types it, for the page's list of runs."""
    quoted = [f'"{a}"' if "(" in a else a for a in command]
    return f"KERAS_BACKEND={backend} python {' '.join(quoted)}"


def find(page, name, extension):
    """The one file with this extension that run `name` wrote."""
    directory = os.path.join(OUTPUTS, page, name)
    files = [f for f in os.listdir(directory) if f.endswith(extension)]
    if len(files) != 1:
        raise ValueError(f"Expected one {extension} file in {directory}. Received: {files}")
    return os.path.join(directory, files[0])


def load(page, name):
    """The JSON run `name` wrote."""
    with open(find(page, name, ".json")) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("page", choices=sorted(RUNS))
    parser.add_argument("--render-only", action="store_true", help="skip the runs")
    parser.add_argument(
        "--only",
        nargs="+",
        help="run only these names; render the page (or only their tables, where they have their own)",
    )
    args = parser.parse_args()
    if not args.render_only:
        for name, backend, command in RUNS[args.page]:
            if args.only is None or name in args.only:
                run(args.page, name, backend, list(command))
    sys.path.insert(1, ROOT)  # this checkout's keras_hsru, after docs/ (renderers.py)
    import renderers

    os.makedirs(os.path.join(GENERATED, args.page), exist_ok=True)
    os.makedirs(FIGURES, exist_ok=True)
    renderers.render(
        args.page,
        lambda name: load(args.page, name),
        GENERATED,
        FIGURES,
        lambda name: find(args.page, name, ".png"),
        only=args.only,
    )
    if RUNS[args.page]:
        lines = [command_line(*run) for run in RUNS[args.page]]
        with open(os.path.join(GENERATED, args.page, "commands.md"), "w") as f:
            f.write("```bash\n" + "\n".join(lines) + "\n```\n")


if __name__ == "__main__":
    main()
