"""Every example's --quick mode runs on the active backend and writes only to its output directory."""

import json
import os

import pytest

from tests.support.scripts import ROOT, run_script

# distributed.py needs two devices set up per engine: tests/test_distributed.py runs it.
EXAMPLES = sorted(
    f
    for f in os.listdir(os.path.join(ROOT, "examples"))
    if f.endswith(".py") and f[0] != "_" and f != "distributed.py"
)


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_quick_mode_writes_to_outputs(script, tmp_path):
    # No output arguments: the defaults, relative to the working directory.
    run_script(os.path.join("examples", script), ["--quick"], cwd=tmp_path)
    assert os.listdir(tmp_path) == ["outputs"]
    written = sorted(os.listdir(tmp_path / "outputs"))
    results = [name for name in written if name.endswith(".json")]
    assert len(results) == 1, written
    result = json.loads((tmp_path / "outputs" / results[0]).read_text())
    assert result["backend"] == os.environ.get("KERAS_BACKEND", result["backend"])
    if "figure" in result:
        figure = tmp_path / result["figure"]  # relative to the example's working directory
        assert figure.parent == tmp_path / "outputs", result["figure"]
        with open(figure, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_example_json_argument_overrides_the_default_path(tmp_path):
    out = tmp_path / "elsewhere.json"
    run_script(
        os.path.join("examples", "quickstart_parity.py"),
        ["--quick", "--json", str(out), "--output-dir", str(tmp_path / "unused")],
    )
    assert json.loads(out.read_text())["test_sequences"] == 2000
