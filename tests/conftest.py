import atexit
import gc
import os
import shutil
import tempfile

# JAX compiles most of this suite's time away, and many tests (and the scripts
# they run in subprocesses) compile the same programs: one persistent
# compilation cache for the run, shared by pytest-xdist's workers and their
# subprocesses (which inherit the environment), set before JAX is imported.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _jax_cache = tempfile.mkdtemp(prefix="keras-hsru-tests-jax-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _jax_cache
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    atexit.register(shutil.rmtree, _jax_cache, ignore_errors=True)

# The tests' programs are small and each runs a few times, so compiling them is
# most of JAX's time. Without LLVM's optimisation passes, with XLA's CPU loop
# emitters instead of its fusion emitters and with one code-generation thread,
# XLA's CPU backend compiles them faster, and JAX's tests take about half as
# long (CONTRIBUTING.md; TensorFlow's did not gain); the tests compare values,
# not speed. Benchmarks and examples run outside pytest, with XLA's defaults.
# Appended, so that a test's own flags (devices) still apply.
if os.environ.get("KERAS_BACKEND") == "jax" and "optimization_level" not in os.environ.get(
    "XLA_FLAGS", ""
):
    os.environ["XLA_FLAGS"] = " ".join(
        (
            os.environ.get("XLA_FLAGS", ""),
            "--xla_backend_optimization_level=0",
            "--xla_llvm_disable_expensive_passes=true",
            "--xla_cpu_use_fusion_emitters=false",
            "--xla_cpu_parallel_codegen_split_count=1",
        )
    ).strip()

# Under pytest-xdist each worker computes on its share of the cores (and so do
# the scripts it runs, which inherit the environment). torch's OpenMP threads
# spin while they wait: two workers of two threads each on two cores ran
# torch's tests about a quarter slower (CONTRIBUTING.md). Set before the
# backend is imported, which reads it once.
if "OMP_NUM_THREADS" not in os.environ and "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    _workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    # The cores this process may use (Linux), or the machine's (macOS has no affinity).
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    os.environ["OMP_NUM_THREADS"] = str(max(1, (_cores or 1) // _workers))

import keras  # noqa: E402
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import keras_hsru

BACKEND = keras.backend.backend()

# The tests compare with float64 references at float32 tolerances, so matrix
# products run in full float32 on GPUs too (JAX and TensorFlow default to
# TF32 there, about 1e-3 relative; torch defaults to float32).
if BACKEND == "jax":
    import jax

    jax.config.update("jax_default_matmul_precision", "highest")
elif BACKEND == "tensorflow":
    import tensorflow as tf

    tf.config.experimental.enable_tensor_float_32_execution(False)


# Property tests (tests/test_properties.py): CI runs a small fixed set of examples
# (derandomized, so a run is reproducible); HYPOTHESIS_PROFILE=thorough explores.
# Neither writes hypothesis' example database into the repository.
_HYPOTHESIS = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}
settings.register_profile("ci", max_examples=20, derandomize=True, **_HYPOTHESIS)
settings.register_profile("thorough", max_examples=400, **_HYPOTHESIS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# keras models, traced functions and compiled programs make a large heap of
# objects that live for the whole run (JAX's and TensorFlow's caches, the
# imported modules: two to three million in a worker by the end), and Python's
# full garbage collections scan all of them each time: over a quarter of a JAX
# worker's time in one measurement, growing as the run goes on
# (CONTRIBUTING.md). After each test its garbage is collected and what survives
# is frozen, out of later collections' reach.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    try:
        return (yield)
    finally:
        gc.collect()
        gc.freeze()


@pytest.fixture(autouse=True)
def _fresh_state():
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def chunks_of_four(monkeypatch):
    """Forward passes without training run chunk by chunk, 4 steps per chunk, on
    every backend (by default only where `_algorithms` says so); returns the
    lengths of the sequences `scan_in_chunks` was called on."""
    scan_in_chunks = keras_hsru.ops.scan_in_chunks
    lengths = []

    def recording(fn, carry, sequences, chunk_length):
        lengths.append(sequences.shape[1])
        return scan_in_chunks(fn, carry, sequences, chunk_length)

    monkeypatch.setattr(keras_hsru.ops, "inference_chunk_length", lambda: 4)
    monkeypatch.setattr(keras_hsru.ops, "scan_in_chunks", recording)
    return lengths


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {BACKEND}, KERAS_BACKEND={os.environ.get('KERAS_BACKEND')}"


# The files whose tests run for tens of seconds each (whole scripts in fresh
# processes, trainings): first, so that pytest-xdist's workers finish together
# on the many short tests instead of one waiting for the other's last long test.
LONG_FIRST = (
    "test_resume.py",
    "test_examples.py",
    "test_docs.py",
    "test_properties.py",
    "test_benchmarks.py",
    "test_classifier.py",
    "test_serialization.py",
    "test_distributed.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: index for index, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FIRST)))
