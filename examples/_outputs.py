"""Where the examples write: an untracked directory (`outputs/` by default).

Running an example leaves the checkout as it was: its JSON and figures go to
`--output-dir`, which `.gitignore` keeps out of git.
"""

import json
import os

import keras


def add_output_arguments(parser):
    """Adds `--output-dir` and `--json` to an example's argument parser."""
    parser.add_argument(
        "--output-dir",
        default="outputs",
        help="directory for the results' JSON and the figures (default: outputs/, untracked)",
    )
    parser.add_argument(
        "--json", help="write the results' JSON here instead of OUTPUT_DIR/NAME-BACKEND.json"
    )


def output_file(args, name, extension):
    """`OUTPUT_DIR/NAME-BACKEND.EXTENSION`, creating OUTPUT_DIR."""
    os.makedirs(args.output_dir, exist_ok=True)
    return os.path.join(args.output_dir, f"{name}-{keras.backend.backend()}.{extension}")


def write_json(args, name, results):
    """Writes `results` to `--json`, or to `OUTPUT_DIR/NAME-BACKEND.json`; returns the path."""
    path = args.json or output_file(args, name, "json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2, default=str)
    print(f"results: {path}")
    return path
