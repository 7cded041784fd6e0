"""Running the repository's scripts (examples, benchmarks, checks) in a fresh Python."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_script(path, arguments=(), check=True, capture=False, extra_env=None, cwd=None):
    """Runs `ROOT/path arguments` with this interpreter and the active KERAS_BACKEND,
    the repository on PYTHONPATH and TensorFlow's logs quiet; returns the CompletedProcess.

    With `check`, a non-zero exit raises; with `capture`, stdout and stderr are
    returned as text instead of going to pytest's output. `cwd` is the working
    directory (default: this process's).
    """
    # The repository first, then whatever this Python already finds (packages installed by path).
    python_path = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": python_path}
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, path), *arguments],
        env=env,
        check=check,
        capture_output=capture,
        text=True,
        timeout=600,
        cwd=cwd,
    )
