"""Distributed training equals one device: each engine through examples/distributed.py.

Each runs in a subprocess: the two devices must be set up before the framework starts
(XLA_FLAGS for JAX, logical devices for TensorFlow) and torch's runs under torchrun.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import BACKEND
from tests.support.scripts import ROOT, run_script


def assert_equals_one_device(result):
    assert result["max_loss_difference"] <= result["tolerance"], result
    assert result["max_relative_weight_difference"] <= result["tolerance"], result


def run_engine(engine, tmp_path):
    out = tmp_path / "result.json"
    run_script("examples/distributed.py", ["--engine", engine, "--json", str(out)])
    return json.loads(out.read_text())


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution runs on JAX")
def test_jax_data_parallel_equals_one_device(tmp_path):
    result = run_engine("jax", tmp_path)
    assert len(result["devices"]) == 2
    assert_equals_one_device(result)


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution runs on JAX")
def test_jax_model_parallel_shards_the_units_with_no_collective_in_the_scan(tmp_path):
    result = run_engine("jax-model", tmp_path)
    assert "model" in result["input_kernel_sharding"], result
    assert sum(result["scan_collectives"].values()) == 0, result["scan_collectives"]
    assert_equals_one_device(result)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute runs on TensorFlow")
def test_tensorflow_mirrored_strategy_equals_one_device(tmp_path):
    result = run_engine("tensorflow", tmp_path)
    assert len(result["devices"]) == 2
    assert_equals_one_device(result)


@pytest.mark.skipif(BACKEND != "torch", reason="DistributedDataParallel runs on torch")
def test_torch_distributed_data_parallel_equals_one_device(tmp_path):
    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable), "torchrun")
    out = tmp_path / "result.json"
    python_path = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": python_path, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [torchrun, "--nproc-per-node", "2", "--master-port", "29517",
         os.path.join(ROOT, "examples", "distributed.py"), "--engine", "torch",
         "--json", str(out)],
        env=env, check=True, timeout=600,
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert result["world"] == 2
    assert_equals_one_device(result)
