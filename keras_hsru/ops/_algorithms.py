"""Which algorithm computes the HSRU scans on each backend and device.

Decided here and only here: each backend module describes where it runs (a
`Place`) and asks `choose`; the docs' table of algorithms ("How it works") is
`table()`, so the code and the docs cannot disagree. The reasons are what was
measured when each choice was made; the docs' Performance page holds the
current numbers.
"""

from dataclasses import dataclass

BACKENDS = ("jax", "tensorflow", "torch")
# The sequence dtypes the GPU kernels read as they are (the states stay float32).
FUSED_GPU_DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class Place:
    """Where an operation runs.

    Attributes:
        backend: `"jax"`, `"tensorflow"` or `"torch"`.
        device: The device type: `"cpu"`, `"gpu"` (JAX, TensorFlow), `"cuda"`,
            `"mps"` (torch), `"tpu"`, ...
        eager: TensorFlow only: executing eagerly rather than building a graph.
        xla: TensorFlow only: the graph being built is compiled by XLA.
        interpreter: torch only: Triton's interpreter is on (TRITON_INTERPRET=1),
            so the Triton kernels run on any device (the tests use it on CPUs).
    """

    backend: str
    device: str
    eager: bool = False
    xla: bool = False
    interpreter: bool = False


@dataclass(frozen=True)
class Choice:
    """The algorithms for one place.

    Attributes:
        scan: The linear recurrence (and, where `"sequential"`, the spike
            count's cumulative sum too): `"sequential"` (a loop over time),
            `"associative"` (`lax.associative_scan`), `"doubling"` (a
            Hillis-Steele scan of ceil(log2 L) vectorized passes) or
            `"chunked matmul"` (per-unit triangular matmuls over chunks of 64
            steps, for a constant decay; doubling otherwise).
        fused: The fused path for V, the spikes and D, if any: `"loop"` (one
            sequential loop forward, one reverse loop backward), `"pallas"`
            or `"triton"` (two GPU kernels), or None.
        fused_dtypes: The sequence dtypes the fused path takes (empty: any).
        fused_surrogates: The spike surrogates the fused path computes (empty:
            any); the GPU kernels have the paper's fast sigmoid built in.
        inference_chunk_length: Steps per chunk of a forward pass without
            training, or None for the whole sequence at once.
        why: The reason, in a sentence.
        right_padded_branch: Whether a masked call branches at run time
            (`keras.ops.cond`) so that sequences padded at the end take the
            unmasked scan, fused where there is a fused path; else every mask
            takes the masked scan. Where the branch costs more than it saves
            (JAX on a CPU: `lax.cond` doubled the train step), or it is
            unmeasured, False.
    """

    scan: str
    fused: str | None
    fused_dtypes: tuple = ()
    inference_chunk_length: int | None = None
    why: str = ""
    fused_surrogates: tuple = ()
    right_padded_branch: bool = False

    def fused_takes(self, dtype: str, surrogate: str = "fast_sigmoid") -> bool:
        """Whether the fused path exists here and takes sequences of `dtype` with
        the spike surrogate `surrogate`."""
        return (
            self.fused is not None
            and (not self.fused_dtypes or dtype in self.fused_dtypes)
            and (not self.fused_surrogates or surrogate in self.fused_surrogates)
        )


_CPU_LOOP_WHY = (
    "On a CPU one loop that reads and writes each sequence once beats the "
    "parallel scans' extra passes over memory, and chunking a forward pass "
    "keeps its temporaries small enough to reuse instead of faulting in fresh pages."
)


def choose(place: Place) -> Choice:
    """The algorithms HSRU's scans use at `place`."""
    if place.backend == "jax":
        if place.device == "cpu":
            return Choice("sequential", "loop", (), 128, _CPU_LOOP_WHY)
        if place.device == "gpu":
            return Choice(
                "associative",
                "pallas",
                FUSED_GPU_DTYPES,
                None,
                "Pallas' Triton lowering runs one fused pass forward and one backward; "
                "the log-depth associative scan serves other dtypes and surrogates.",
                ("fast_sigmoid",),
            )
        return Choice(
            "associative", None, (), None, "The log-depth scan keeps an accelerator busy."
        )
    if place.backend == "tensorflow":
        if place.eager:
            return Choice(
                "doubling",
                None,
                (),
                None,
                "Eagerly a loop runs op by op per step; the doubling scan runs ceil(log2 L) ops.",
            )
        if place.device == "cpu":
            if place.xla:
                return Choice(
                    "sequential",
                    "loop",
                    (),
                    None,
                    "Under XLA the loop takes one step per iteration over time-major arrays, "
                    "the form XLA compiles well; chunking is untimed there.",
                )
            return Choice("sequential", "loop", (), 128, _CPU_LOOP_WHY, right_padded_branch=True)
        return Choice(
            "doubling",
            None,
            (),
            None,
            "On a GPU each of the doubling scan's passes is fully parallel.",
        )
    if place.backend == "torch":
        if place.device == "cuda" or place.interpreter:
            return Choice(
                "chunked matmul" if place.device == "cuda" else "doubling",
                "triton",
                FUSED_GPU_DTYPES,
                None,
                "Two Triton kernels read and write each sequence once; without them "
                "(and for other surrogates) the chunked matmul form uses the tensor cores.",
                ("fast_sigmoid",),
            )
        return Choice(
            "doubling",
            None,
            (),
            None,
            "Eager torch runs an op per call, so the doubling scan's ceil(log2 L) "
            "vectorized passes beat a loop over time; a mask is checked as it comes, "
            "so a batch padded at the end skips the masked scan's per-step decay.",
            right_padded_branch=True,
        )
    raise ValueError(
        f"keras_hsru supports the backends {BACKENDS}. Received: backend={place.backend!r}"
    )


# The layers' `implementation` argument, one vocabulary from the layer to the kernels:
# what each asks of the whole-sequence scan (`hybrid_scan`'s `fused`), or keras' step loop.
IMPLEMENTATIONS = ("auto", "fused", "scan", "loop")
_FUSED_ARGUMENT = {"auto": None, "fused": True, "scan": False}


@dataclass(frozen=True)
class Plan:
    """What one call of an HSRU layer runs, decided by `plan` alone.

    Attributes:
        step_loop: keras' step-by-step RNN loop over the cell
            (`implementation="loop"`, the reference); the rest then is unused.
        fused: What the whole-sequence scan is asked for V, the spikes and D
            (`keras_hsru.ops.hybrid_scan`'s `fused`): None (the fused path
            where `choose` has one for the device, dtype and surrogate, else
            the composed scans), True (the fused path, forced: a ValueError
            where there is none) or False (the composed scans). A memory other
            than the XOR bit always takes the composed scans (False): the
            fused paths compute the XOR bit only.
        mask_route: `"none"` (no mask), `"masked scan"` (the composed scans
            with a per-step decay) or `"right-padded branch"` (a run-time
            branch: rows padded at the end take the unmasked scan, as `fused`
            says, other masks the masked scan).
        forward_chunk_length: Steps per chunk of an unmasked forward pass
            without training (`scan_in_chunks`), or None: the whole sequence.
    """

    step_loop: bool
    fused: bool | None
    mask_route: str
    forward_chunk_length: int | None


def plan(
    implementation: str,
    xor_bit: bool,
    masked: bool,
    training: bool,
    forward_chunk_length: int | None,
    right_padded_branch: bool,
    fixed_length_trace: bool = False,
) -> Plan:
    """The `Plan` of a layer call with `implementation` (one of
    `IMPLEMENTATIONS`) on a memory that is the XOR bit or not, with a mask or
    not, in training or not, where `choose` gave `forward_chunk_length`
    (`Choice.inference_chunk_length`) and `right_padded_branch`. Under a
    tracer that fixes the sequence length (`fixed_length_trace`: torch's ONNX
    export), a run-time branch would be recorded for the traced mask only, so
    masks take the masked scan there. `keras_hsru.ops.plan_call` checks the
    arguments."""
    if implementation == "loop":
        return Plan(True, None, "masked scan" if masked else "none", None)
    fused = _FUSED_ARGUMENT[implementation] if xor_bit else False
    if masked:
        branch = right_padded_branch and not fixed_length_trace
        return Plan(False, fused, "right-padded branch" if branch else "masked scan", None)
    return Plan(False, fused, "none", None if training else forward_chunk_length)


# The places the docs' table lists, with how each is described there.
DOCUMENTED_PLACES = (
    ("JAX", "CPU", Place("jax", "cpu")),
    ("JAX", "GPU", Place("jax", "gpu")),
    ("JAX", "TPU", Place("jax", "tpu")),
    ("TensorFlow", "CPU, graph (`fit`, `predict`)", Place("tensorflow", "cpu")),
    ("TensorFlow", "CPU, XLA (`jit_compile=True`)", Place("tensorflow", "cpu", xla=True)),
    ("TensorFlow", "GPU, graph", Place("tensorflow", "gpu")),
    ("TensorFlow", "any, eager", Place("tensorflow", "cpu", eager=True)),
    ("torch", "CUDA", Place("torch", "cuda")),
    ("torch", "CPU, MPS", Place("torch", "cpu")),
)


def table() -> str:
    """The Markdown table of `choose` over `DOCUMENTED_PLACES` (the docs show it)."""
    rows = [
        "| backend | device | V scan | fused V, S, D | forward chunks | padded at the end | why |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for backend, device, place in DOCUMENTED_PLACES:
        choice = choose(place)
        fused = choice.fused or "none"
        if choice.fused and (choice.fused_dtypes or choice.fused_surrogates):
            fused += f" ({', '.join(choice.fused_dtypes + choice.fused_surrogates)})"
        chunks = choice.inference_chunk_length or "whole sequence"
        padded = "unmasked scan" if choice.right_padded_branch else "masked scan"
        rows.append(
            f"| {backend} | {device} | {choice.scan} | {fused} | {chunks} | {padded} "
            f"| {choice.why} |"
        )
    return "\n".join(rows) + "\n"


# What `plan_table` writes for each decision of a `Plan`.
_FUSED_WORDS = {
    None: "the fused path where the place has one (`fused V, S, D` above), else the composed scans",
    True: "the fused path, forced (a `ValueError` where the place has none)",
    False: "the composed scans",
}
_MASK_WORDS = {
    "masked scan": "the masked scan (the composed scans with a per-step decay)",
    "right-padded branch": (
        "where the place has the branch (`padded at the end` above), rows padded at the end "
        "take {fused}, other masks the masked scan; elsewhere the masked scan"
    ),
}
# Stands for the place's `Choice.inference_chunk_length` in the calls `plan_table` plans.
_PLACE_CHUNKS = -1


def plan_table() -> str:
    """The Markdown table of `plan` over every layer argument and kind of call,
    with the place's facts (its fused path, chunk length and branch) named."""
    rows = [
        "| `implementation` | memory | call | what runs |",
        "| --- | --- | --- | --- |",
    ]
    calls = (
        ("training, no mask", False, True),
        ("`predict` (no training), no mask", False, False),
        ("with a mask", True, True),
    )
    for implementation in IMPLEMENTATIONS:
        # The layers refuse "fused" with another memory than the XOR bit.
        memories = {
            "loop": (("any", True),),
            "fused": (("XOR bit", True),),
        }.get(implementation, (("XOR bit", True), ("latch or counter", False)))
        for memory, xor_bit in memories:
            for call, masked, training in calls:
                chosen = plan(implementation, xor_bit, masked, training, _PLACE_CHUNKS, True)
                if chosen.step_loop:
                    runs = "keras' step loop over the cell"
                elif chosen.mask_route != "none":
                    runs = _MASK_WORDS[chosen.mask_route].format(fused=_FUSED_WORDS[chosen.fused])
                else:
                    runs = _FUSED_WORDS[chosen.fused]
                    if chosen.forward_chunk_length == _PLACE_CHUNKS:
                        runs += ", in the place's forward chunks (`forward chunks` above)"
                rows.append(f'| `"{implementation}"` | {memory} | {call} | {runs} |')
    return "\n".join(rows) + "\n"
