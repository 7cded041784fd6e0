"""Every example's --quick mode runs on the active backend."""

import json
import os

import pytest

from tests.scripts import ROOT, run_script

EXAMPLES = sorted(f for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith(".py"))


def takes_figures_argument(script):
    with open(os.path.join(ROOT, "examples", script)) as f:
        return '"--figures"' in f.read()


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_quick_mode(script, tmp_path):
    out = tmp_path / "result.json"
    arguments = ["--quick", "--json", str(out)]
    if takes_figures_argument(script):
        # Figures go to the test's directory, not the repository's results/.
        arguments += ["--figures", str(tmp_path)]
    run_script(os.path.join("examples", script), arguments)
    result = json.loads(out.read_text())
    assert result
    if takes_figures_argument(script):
        with open(result["figure"], "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
