"""Every example's --quick mode runs on the active backend."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(f for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith(".py"))


def takes_figures_argument(script):
    with open(os.path.join(ROOT, "examples", script)) as f:
        return '"--figures"' in f.read()


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_quick_mode(script, tmp_path):
    out = tmp_path / "result.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}
    command = [
        sys.executable,
        os.path.join(ROOT, "examples", script),
        "--quick",
        "--json",
        str(out),
    ]
    if takes_figures_argument(script):
        # Figures go to the test's directory, not the repository's results/.
        command += ["--figures", str(tmp_path)]
    subprocess.run(command, env=env, check=True, timeout=600)
    result = json.loads(out.read_text())
    assert result
    if takes_figures_argument(script):
        with open(result["figure"], "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
