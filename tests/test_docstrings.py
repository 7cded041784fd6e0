"""Every example in a public docstring runs on the active backend and prints what it shows."""

import doctest
import inspect

import keras
import numpy as np
import pytest

import keras_hsru


def public_objects():
    """(qualified name, object) of every public name the docs' API reference shows."""
    modules = {
        "keras_hsru": keras_hsru,
        "keras_hsru.ops": keras_hsru.ops,
        "keras_hsru.tasks": keras_hsru.tasks,
        "keras_hsru.callbacks": keras_hsru.callbacks,
        "keras_hsru.regularizers": keras_hsru.regularizers,
        "keras_hsru.models": keras_hsru.models,
        "keras_hsru.initializers": keras_hsru.initializers,
    }
    seen = {}
    for prefix, module in modules.items():
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                seen.setdefault(id(value), (f"{prefix}.{name}", value))
    return sorted(seen.values(), key=lambda item: item[0])


def doctests():
    finder = doctest.DocTestFinder(recurse=False)
    tests = []
    for name, value in public_objects():
        for test in finder.find(value, name):
            if test.examples:
                tests.append(test)
    return tests


TESTS = doctests()


def test_every_public_class_and_function_shows_an_example():
    with_examples = {test.name for test in TESTS}
    missing = [name for name, _ in public_objects() if name not in with_examples]
    assert not missing, f"public names without a docstring example: {missing}"


@pytest.mark.parametrize("test", TESTS, ids=[test.name for test in TESTS])
def test_docstring_example(test):
    test.globs = {"keras": keras, "keras_hsru": keras_hsru, "np": np}
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    output = []
    runner.run(test, out=output.append)
    assert runner.failures == 0, "".join(output)


def test_the_api_reference_shows_every_public_class_and_function():
    import glob
    import os

    from tests.support.scripts import ROOT

    shown = set()
    for page in glob.glob(os.path.join(ROOT, "docs", "api", "*.md")):
        with open(page) as f:
            shown.update(line[4:].strip() for line in f if line.startswith("::: "))
    missing = [name for name, _ in public_objects() if name not in shown]
    assert not missing, f"public names missing from docs/api/: {missing}"
