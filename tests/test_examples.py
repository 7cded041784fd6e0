"""Every example's --quick mode runs on the active backend."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(f for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith(".py"))


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_quick_mode(script, tmp_path):
    out = tmp_path / "result.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}
    subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", script), "--quick", "--json", str(out)],
        env=env,
        check=True,
        timeout=600,
    )
    assert json.loads(out.read_text())
