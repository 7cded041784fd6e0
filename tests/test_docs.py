"""The docs' Python snippets run as written on the active backend, page by page."""

import os
import re

import keras
import pytest

from tests.support.scripts import ROOT

# Pages whose every ```python block runs, in order, in one namespace.
PAGES = (
    "README.md",
    "docs/index.md",
    "docs/getting-started.md",
    "docs/user-guide.md",
    "docs/monitoring.md",
    "docs/real-sequences.md",
)


def python_blocks(page):
    with open(os.path.join(ROOT, page)) as f:
        text = f.read()
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


@pytest.mark.parametrize("page", PAGES)
def test_every_snippet_runs(page):
    blocks = python_blocks(page)
    assert blocks, f"no ```python blocks in {page}"
    namespace = {"__name__": f"docs_{page}"}
    for index, block in enumerate(blocks):
        try:
            exec(compile(block, f"{page}, block {index + 1}", "exec"), namespace)
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


def markdown_files():
    pages = [os.path.join("docs", name) for name in os.listdir(os.path.join(ROOT, "docs"))]
    for directory, _, names in os.walk(os.path.join(ROOT, "docs", "generated")):
        pages += [os.path.relpath(os.path.join(directory, name), ROOT) for name in names]
    pages += ["README.md", "CONTRIBUTING.md", "CHANGELOG.md"]
    return sorted(page for page in pages if page.endswith(".md"))


def accidental_list_items(text):
    """Lines outside code blocks that Markdown reads as a numbered list item out
    of sequence: a wrapped sentence whose line starts with a number and a full
    stop ("900. steps ...") becomes a list of one item and cuts the sentence."""
    found, fenced, expected = [], False, None
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        item = None if fenced else re.match(r"\s*(\d+)\. ", line)
        if item is None:
            continue
        value = int(item.group(1))
        if value == 1 or value == expected:
            expected = value + 1
        else:
            found.append(f"line {number}: {line.strip()[:60]}")
    return found


def test_accidental_list_items_are_found():
    assert accidental_list_items("1. one\n2. two\n\n1. again\n") == []
    assert accidental_list_items("steps at a rate over\n900. steps, then\n") == [
        "line 2: 900. steps, then"
    ]
    assert accidental_list_items("```\n3. in code\n```\n") == []


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="reads text files: once per CI run")
@pytest.mark.parametrize("page", markdown_files())
def test_no_wrapped_line_starts_a_numbered_list(page):
    with open(os.path.join(ROOT, page)) as f:
        assert accidental_list_items(f.read()) == [], page


def load_renderers():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "docs_renderers", os.path.join(ROOT, "docs", "renderers.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="reads the docs' code: once per CI run"
)
def test_every_run_a_docs_table_reads_is_one_of_its_pages_runs(tmp_path, monkeypatch):
    renderers = load_renderers()
    assert set(renderers.RUNS) == set(renderers.RENDERERS)
    names = {page: [name for name, _, _ in runs] for page, runs in renderers.RUNS.items()}
    for page, declared in names.items():
        assert len(declared) == len(set(declared)), page
    for page, name in renderers.RUN_RENDERERS:
        assert name in names[page], (page, name)
    read = [
        *(n for runs in renderers.REGULAR_LANGUAGE_RUNS.values() for n in runs),
        *renderers.PAPER_RECIPE_RUNS,
        *renderers.RESET_RUNS,
    ]
    assert set(read) <= set(names["regular-languages"]) and len(renderers.PAPER_RECIPE_RUNS) == 8
    read = [f"tsc-{d}" for d in renderers.REAL_DATASETS]
    read += [f"tsc-ablations-{d}" for d in renderers.ABLATION_DATASETS]
    read += [*renderers.MASKING_RUNS, "tsc-dtw"]
    assert set(read) <= set(names["real-sequences"]) and len(renderers.MASKING_RUNS) == 3

    # A renderer that loads a run its page does not declare fails, naming it.
    def load(name):
        raise FileNotFoundError(name)  # declared, not run here

    (tmp_path / "paper").mkdir()
    arguments = ("paper", load, str(tmp_path), str(tmp_path), load)
    with pytest.raises(FileNotFoundError, match="temporal_parity-full"):
        renderers.render(*arguments)
    runs = [run for run in renderers.RUNS["paper"] if run[0] != "temporal_parity-full"]
    monkeypatch.setitem(renderers.RUNS, "paper", runs)
    with pytest.raises(KeyError, match="'temporal_parity-full' is not one of the paper page's"):
        renderers.render(*arguments)


@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="reads the docs' code: once per CI run"
)
def test_the_deploy_tables_render_from_runs_shaped_as_the_scripts_write_them(tmp_path):
    renderers = load_renderers()
    streaming = {
        "rows": [
            {"layer": "HSRU", "chunk": 64, "stream": 1000, "accuracy": 1.0, "p50_ms": 0.5,
             "p99_ms": 0.9, "steps_per_s": 12800.0},
        ]
    }  # fmt: skip
    parity = {"model": "HSRU(16) parity", "parity L=10": 1.0, "predict_on_batch_seconds": 1e-3}
    quantization = {
        "latency_length": 1000,
        "runs": [
            {**parity, "seed": 0, "weights": "float32", "weight_bytes": 2436},
            {**parity, "seed": 0, "weights": "int8", "weight_bytes": 936},
        ],
    }
    edge_row = {"runtime": "LiteRT", "steps": 20, "p50_ms": 0.05, "p99_ms": 0.1}
    edge = {
        "rows": [
            {**edge_row, "weights": "float32", "accuracy": 1.0, "wrong_steps": [],
             "file_bytes": 28516},
            {**edge_row, "weights": "int8", "accuracy": 0.9, "wrong_steps": [1, 3],
             "file_bytes": 28516},
        ],
        "unavailable": {"onnxruntime (int8)": "a reason"},
    }  # fmt: skip
    runs = {"quantization": quantization, "edge": edge}
    runs.update({f"streaming-{b}": streaming for b in ("jax", "tensorflow", "torch")})
    (tmp_path / "deploy").mkdir()
    renderers.render("deploy", runs.__getitem__, str(tmp_path), str(tmp_path), None)
    written = {p.name: p.read_text() for p in (tmp_path / "deploy").iterdir()}
    assert "| 100.00% | 0.500 | 0.900 | 12,800 |" in written["streaming.md"]
    assert "90.00% (wrong at steps 1, 3)" in written["edge.md"]
    assert "onnxruntime (int8): a reason" in written["edge.md"]
    assert (
        "| HSRU(16) parity | int8 | L=10: 100.0 | 936 | 1.0 (1.00x) |" in written["quantization.md"]
    )
