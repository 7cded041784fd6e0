"""The fused Triton kernels (torch backend) equal the composed ops, forward and backward.

On a CUDA machine they run on the GPU; elsewhere under Triton's CPU
interpreter. The check runs in a subprocess because TRITON_INTERPRET must be
set before Triton is imported.
"""

import pytest

from tests.conftest import BACKEND
from tests.scripts import run_script

pytestmark = pytest.mark.skipif(
    BACKEND != "torch", reason="the Triton kernels serve the torch backend"
)


def test_fused_kernels_match_composed_ops():
    pytest.importorskip("triton")
    import torch

    interpreter = {} if torch.cuda.is_available() else {"TRITON_INTERPRET": "1"}
    result = run_script(
        "tests/fused_kernel_check.py", check=False, capture=True, extra_env=interpreter
    )
    print(result.stdout[-3000:], result.stderr[-3000:])
    assert result.returncode == 0
    assert result.stdout.count(" ok") == 21
