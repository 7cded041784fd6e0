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


def run_script_here(path, arguments=(), cwd=None):
    """Runs `ROOT/path arguments` as `__main__` in this process, as Python would run
    the file (its directory first on sys.path), in the working directory `cwd`
    (default: this process's); returns the script's namespace.

    A fresh Python would spend seconds importing the backend again (5 to 7 s
    here), as long as a quick run's training: for a script that leaves no state
    behind in the process (the examples and most benchmarks; not one that sets
    the package's private tunables, nor one a test kills).
    """
    import runpy

    script = os.path.join(ROOT, path)
    saved_argv, saved_path, saved_cwd = sys.argv, sys.path[:], os.getcwd()
    sys.argv = [script, *arguments]
    sys.path.insert(0, os.path.dirname(script))
    try:
        if cwd is not None:
            os.chdir(cwd)
        return runpy.run_path(script, run_name="__main__")
    finally:
        os.chdir(saved_cwd)
        sys.argv, sys.path[:] = saved_argv, saved_path
