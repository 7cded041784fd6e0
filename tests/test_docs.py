"""The docs' Python snippets run as written on the active backend, page by page."""

import os
import re

import keras
import pytest

from tests.support.scripts import ROOT

# Pages whose every ```python block runs, in order, in one namespace.
PAGES = (
    "index.md",
    "getting-started.md",
    "user-guide.md",
    "monitoring.md",
    "real-sequences.md",
)


def python_blocks(page):
    with open(os.path.join(ROOT, "docs", page)) as f:
        text = f.read()
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


@pytest.mark.parametrize("page", PAGES)
def test_every_snippet_runs(page):
    blocks = python_blocks(page)
    assert blocks, f"no ```python blocks in {page}"
    namespace = {"__name__": f"docs_{page}"}
    for index, block in enumerate(blocks):
        try:
            exec(compile(block, f"docs/{page}, block {index + 1}", "exec"), namespace)
        finally:
            keras.config.set_dtype_policy("float32")


def test_the_readme_quotes_the_current_cpu_table():
    # The README's speed row repeats the Performance page's table: a rerun moves both.
    with open(os.path.join(ROOT, "docs", "generated", "performance", "speed-cpu-summary.md")) as f:
        rows = [line.split("|")[1:-1] for line in f if line.startswith("| ") and "1024" in line]
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    names = {"jax": "JAX", "tensorflow": "TensorFlow", "torch": "torch"}
    for backend, _, _, lstm, *_ in rows:
        assert f"{names[backend.strip()]} {lstm.strip()}" in readme, (backend, lstm)
