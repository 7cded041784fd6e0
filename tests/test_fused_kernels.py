"""The fused Triton kernels (torch backend) equal the composed ops, forward and backward.

On a CUDA machine they run on the GPU; elsewhere under Triton's CPU
interpreter. The check runs in a subprocess because TRITON_INTERPRET must be
set before Triton is imported.
"""

import os
import subprocess
import sys

import pytest

from tests.conftest import BACKEND

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(
    BACKEND != "torch", reason="the Triton kernels serve the torch backend"
)


def test_fused_kernels_match_composed_ops():
    pytest.importorskip("triton")
    import torch

    env = {**os.environ, "PYTHONPATH": ROOT}
    if not torch.cuda.is_available():
        env["TRITON_INTERPRET"] = "1"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", "fused_kernel_check.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(result.stdout[-3000:], result.stderr[-3000:])
    assert result.returncode == 0
    assert result.stdout.count(" ok") == 21
