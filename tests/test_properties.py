"""Property-based equivalence (hypothesis): over random shapes, masks, directions, initial
states, stateful chunking and every implementation, `HSRU` equals `RNN(HSRUCell)` and the
float64 reference.

Each drawn case puts every threshold in the widest gap of the potentials the
case visits, so no V sits within rounding distance of a threshold. The number
of examples comes from the hypothesis profile (tests/conftest.py): `ci` by
default, `HYPOTHESIS_PROFILE=thorough` for a long local run. A failure that
hypothesis shrinks is kept below as an `@example`.

One difference is keras', not HSRU's: at masked steps before a row's first
unmasked step (of a call), keras' RNN loop on TensorFlow and torch emits
zeros where the initial output `y` is non-zero, and on JAX the initial output
(keras' LSTM does the same: tests/test_layers.py). HSRU emits the initial
output on every backend, as the reference does; there the step loop is
compared (and HSRU's `implementation="loop"`, which is keras' loop) only where
keras defines it alike.
"""

import keras
import numpy as np
from hypothesis import assume, event, example, given
from hypothesis import strategies as st

import keras_hsru
from tests.support import reference
from tests.support.backend_utils import fused_kernels_run_here
from tests.support.helpers import numpy

SLOPE = 5.0
# Where keras' RNN loop emits zeros, not the initial output, at leading masked steps.
LOOP_ZEROS_LEADING_MASKED = keras.backend.backend() in ("tensorflow", "torch")
IMPLEMENTATIONS = ("auto", "scan", "loop") + (("fused",) if fused_kernels_run_here() else ())
MASKS = ("none", "random", "right_padded", "with_empty_rows")


@st.composite
def cases(draw):
    case = {
        "seed": draw(st.integers(0, 2**31 - 1)),
        "batch": draw(st.integers(1, 4)),
        "length": draw(st.one_of(st.integers(1, 12), st.integers(13, 300))),
        "units": draw(st.integers(1, 6)),
        "features": draw(st.integers(1, 5)),
        "mask": draw(st.sampled_from(MASKS)),
        "go_backwards": draw(st.booleans()),
        "return_sequences": draw(st.booleans()),
        "return_state": draw(st.booleans()),
        "initial_state": draw(st.booleans()),
        "implementation": draw(st.sampled_from(IMPLEMENTATIONS)),
    }
    # Stateful chunking: the sequence fed in 1 to 3 consecutive calls (forward only:
    # backwards, each call reverses its own chunk).
    most = 1 if case["go_backwards"] else min(3, case["length"])
    case["chunks"] = draw(st.integers(1, most))
    return case


def draw_inputs(case, rng):
    batch, length = case["batch"], case["length"]
    x = rng.normal(size=(batch, length, case["features"])).astype(np.float32)
    if case["mask"] == "none":
        mask = None
    elif case["mask"] == "random":
        mask = rng.uniform(size=(batch, length)) < 0.7
    else:
        lengths = rng.integers(1, length + 1, size=batch)
        if case["mask"] == "with_empty_rows":
            lengths[rng.integers(batch)] = 0
        mask = np.arange(length)[None] < lengths[:, None]
    initial = None
    if case["initial_state"]:
        initial = [
            rng.uniform(-1, 1, (batch, case["units"])).astype(np.float32),
            rng.normal(scale=0.5, size=(batch, case["units"])).astype(np.float32),
            (rng.uniform(size=(batch, case["units"])) < 0.5).astype(np.float32),
        ]
    return x, mask, initial


def visited_potentials(x, w_in, b_in, tau, mask, v0):
    """The V of every unmasked step, in float64 (V does not depend on the threshold)."""
    alpha = np.exp(-reference.softplus(tau))
    v = np.zeros((x.shape[0], w_in.shape[1])) if v0 is None else v0.astype(np.float64)
    values = []
    for t in range(x.shape[1]):
        keep = np.ones(x.shape[0], bool) if mask is None else mask[:, t]
        v = np.where(keep[:, None], alpha * v + x[:, t] @ w_in + b_in, v)
        values.append(v[keep])
    return np.concatenate(values) if values else np.zeros((0, w_in.shape[1]))


def draw_weights(case, x, mask, initial, rng):
    """Weights whose thresholds lie clear of every V the case visits; None if none fits."""
    features, units = case["features"], case["units"]
    w_in = (rng.normal(size=(features, units)) / np.sqrt(features)).astype(np.float32)
    b_in = rng.normal(scale=0.1, size=units).astype(np.float32)
    tau = rng.uniform(-2, 2, size=units).astype(np.float32)
    w_out = (rng.normal(size=(2 * units, units)) / np.sqrt(2 * units)).astype(np.float32)
    b_out = rng.normal(scale=0.1, size=units).astype(np.float32)
    v0 = None if initial is None else initial[1]
    values = visited_potentials(x, w_in, b_in, tau, mask, v0)
    if len(values) < 2:
        # Too few steps for a gap: a threshold above every value (no spike).
        theta = (np.abs(values).max(axis=0, initial=0.0) + 1.0).astype(np.float32)
    else:
        theta, margin = reference.threshold_in_gaps(values[:, None, :])
        if margin.min() < 1e-3:
            return None
        theta = theta.astype(np.float32)
    return [w_in, b_in, tau, theta, w_out, b_out]


def run_layer(layer, x, mask, initial, chunks):
    """Outputs and final states of `layer` on `x`, fed in `chunks` consecutive calls."""
    bounds = np.linspace(0, x.shape[1], chunks + 1).astype(int)
    pieces = []
    for index, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
        kwargs = {}
        if mask is not None:
            kwargs["mask"] = mask[:, start:stop]
        if initial is not None and index == 0:
            kwargs["initial_state"] = initial
        result = layer(x[:, start:stop], **kwargs)
        pieces.append(
            [numpy(r) for r in (result if isinstance(result, (list, tuple)) else [result])]
        )
    return pieces


def expected(case, x, mask, initial, weights):
    """What the layer returns, from the float64 reference, chunk by chunk."""
    if case["go_backwards"]:
        x = x[:, ::-1]
        mask = None if mask is None else mask[:, ::-1]
    outputs, states = reference.hsru_forward(x, weights, SLOPE, initial_state=initial, mask=mask)
    bounds = np.linspace(0, x.shape[1], case["chunks"] + 1).astype(int)
    pieces = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        if case["return_sequences"]:
            piece = [outputs[:, start:stop]]
        else:
            # The last output of the chunk: the output at its last step (which
            # repeats the previous output where masked), or the initial one.
            last = outputs[:, stop - 1]
            piece = [last]
        if case["return_state"]:
            piece += [outputs[:, stop - 1], *chunk_states(x, mask, initial, weights, stop)]
        pieces.append(piece)
    return pieces


def chunk_states(x, mask, initial, weights, stop):
    _, (_, v, d) = reference.hsru_forward(
        x[:, :stop],
        weights,
        SLOPE,
        initial_state=initial,
        mask=None if mask is None else mask[:, :stop],
    )
    return [v, d]


def loop_defined(case, mask):
    """Per chunk, where the step loop's first result (outputs or last output) is
    defined as HSRU's is: everywhere, except at leading masked steps of a call
    on the backends where keras' loop emits zeros there."""
    bounds = np.linspace(0, case["length"], case["chunks"] + 1).astype(int)
    if mask is None or not LOOP_ZEROS_LEADING_MASKED:
        return [None] * case["chunks"]
    if case["go_backwards"]:
        mask = mask[:, ::-1]
    pieces = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        seen = np.cumsum(mask[:, start:stop], axis=1) > 0
        pieces.append(seen if case["return_sequences"] else seen[:, -1])
    return pieces


def make(kind, case, weights):
    common = {
        "return_sequences": case["return_sequences"],
        "return_state": case["return_state"],
        "go_backwards": case["go_backwards"],
        "stateful": case["chunks"] > 1,
    }
    if kind == "hsru":
        layer = keras_hsru.HSRU(
            case["units"],
            surrogate_slope=SLOPE,
            implementation=case["implementation"],
            **common,
        )
    else:
        layer = keras.layers.RNN(
            keras_hsru.HSRUCell(case["units"], surrogate_slope=SLOPE), **common
        )
    batch = case["batch"] if common["stateful"] else None
    layer.build((batch, None, case["features"]))
    layer.set_weights(weights)
    return layer


@given(case=cases())
@example(
    case={
        "seed": 0,
        "batch": 1,
        "length": 2,
        "units": 1,
        "features": 1,
        "mask": "right_padded",
        "go_backwards": False,
        "return_sequences": False,
        "return_state": False,
        "initial_state": False,
        "implementation": "loop",
        "chunks": 2,
    }
)
@example(
    case={
        "seed": 0,
        "batch": 3,
        "length": 1,
        "units": 1,
        "features": 1,
        "mask": "with_empty_rows",
        "go_backwards": False,
        "return_sequences": False,
        "return_state": True,
        "initial_state": True,
        "implementation": "auto",
        "chunks": 1,
    }
)
def test_hsru_equals_the_step_loop_and_the_float64_reference(case):
    rng = np.random.default_rng(case["seed"])
    x, mask, initial = draw_inputs(case, rng)
    weights = draw_weights(case, x, mask, initial, rng)
    # Without a threshold clear of every visited potential nothing compares exactly.
    assume(weights is not None)
    event(f"mask={case['mask']}, chunks={case['chunks']}, length>12={case['length'] > 12}")
    want = expected(case, x, mask, initial, weights)
    got = run_layer(make("hsru", case, weights), x, mask, initial, case["chunks"])
    loop = run_layer(make("cell", case, weights), x, mask, initial, case["chunks"])
    assert len(got) == len(want) == len(loop)
    for got_piece, loop_piece, want_piece, defined in zip(
        got, loop, want, loop_defined(case, mask)
    ):
        assert len(got_piece) == len(want_piece) == len(loop_piece)
        for index, (g, c, w) in enumerate(zip(got_piece, loop_piece, want_piece)):
            if index == 0 and defined is not None:
                if case["implementation"] == "loop":  # HSRU's "loop" is keras' loop
                    g, w = g[defined], w[defined]
                else:
                    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4, err_msg="vs ref")
                    g, w = g[defined], w[defined]
                c = c[defined]
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4, err_msg=f"vs ref, #{index}")
            np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-5, err_msg=f"vs loop, #{index}")
