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
sys.path.insert(1, ROOT)  # this checkout's keras_hsru, after docs/ (renderers.py)
import renderers  # noqa: E402
from renderers import RUNS  # noqa: E402

OUTPUTS = os.path.join(ROOT, "outputs", "docs")
GENERATED = os.path.join(ROOT, "docs", "generated")
FIGURES = os.path.join(ROOT, "docs", "assets", "figures")


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
