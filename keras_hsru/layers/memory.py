"""The digital memory `D` of an HSRU cell: one class per kind, one home for all.

Each kind says what the spikes do to `D`: how many channels of `units` it
holds, the threshold it starts from, one step (`step`, keras' RNN loop), the
whole sequence at once (`scan`, without a per-step loop, through the ops'
scans and their exact gradients), how many spikes a unit-step counts, and the
count a unit holds. The spikes come from the cell: up spikes
`U = H(V - threshold)` and, for a kind that reads them (`two_sided`), down
spikes `N = H(-V - threshold)`, each with its surrogate gradient. `HSRUCell`
holds one kind (`memory_kind`) and delegates to it; nothing else in the layers
branches on the memory, except that the fused paths compute the XOR bit alone
(`xor_bit`).
"""

from keras import initializers, ops

from keras_hsru import ops as hsru_ops

# What a spike does to the digital memory: "toggle" flips it (the paper's XOR
# bit; with memory_states=k, a counter modulo k); "latch" sets it on an up
# spike and resets it on a down spike (a flip-flop with hysteresis); "reset"
# makes it a count modulo k that V adds to above the threshold and sets below
# it, one count per level passed.
MEMORIES = ("toggle", "latch", "reset")

# The default initial threshold of the memories moved by up and down spikes
# (a counter modulo k > 2, the latch): they hold where -threshold <= V <= threshold.
COUNTER_THRESHOLD = 0.25


def xor_step(previous, spikes):
    """The paper's differentiable XOR: D_t = D_{t-1} (1 - S_t) + (1 - D_{t-1}) S_t."""
    return previous * (1 - spikes) + (1 - previous) * spikes


def latch_hold(up, down):
    """Where the latch keeps its state: no spike, or both at once."""
    return (1 - up) * (1 - down) + up * down


def latch_step(previous, up, down):
    """One step of the latch: set to 1 by an up spike, reset to 0 by a down
    spike, held otherwise (`D_t = hold_t D_{t-1} + U_t (1 - N_t)`)."""
    return latch_hold(up, down) * previous + up * (1 - down)


def counter_step(previous, up, down):
    """One step of the k-state memory, `previous` `(batch, k, units)` over the
    counts: an up spike rotates it one count up, a down spike one down, both
    leave it (`keras_hsru.ops.counter_scan`, step by step)."""
    up, down = ops.expand_dims(up, 1), ops.expand_dims(down, 1)
    return (
        (1 - up) * (1 - down) * previous
        + up * (1 - down) * ops.roll(previous, 1, axis=1)
        + down * (1 - up) * ops.roll(previous, -1, axis=1)
        + up * down * previous
    )


def reset_counter_step(previous, moves, reset):
    """One step of the reset counter, `previous` `(batch, k, units)` over the
    counts: a reset spike puts the count at 0, then each of the move spikes
    `moves` `(batch, L, units)` moves it one count up
    (`keras_hsru.ops.reset_counter_scan`, step by step)."""
    reset = ops.expand_dims(reset, 1)
    first = ops.concatenate([ops.ones_like(previous[:, :1]), ops.zeros_like(previous[:, 1:])], 1)
    entered = (1 - reset) * previous + reset * first
    for level in range(moves.shape[1]):
        move = moves[:, level : level + 1]
        entered = (1 - move) * entered + move * ops.roll(entered, 1, axis=1)
    return entered


class DigitalMemory:
    """A kind of digital memory of `units` units, `states` states each.

    `D` holds `channels = states - 1` blocks of `units` (one bit: one block),
    and `W_out` reads `1 + channels` blocks of rows: V's, then each channel's.
    """

    #: Whether down spikes move it (else `down` is None everywhere below).
    two_sided = True
    #: Whether it is the paper's XOR bit, the only memory the fused paths compute.
    xor_bit = False
    #: The up spikes of a unit-step: one, `H(V - threshold)`, or for more than
    #: one, `H(sign_i * V - multiple_i * threshold)` for each level i on an
    #: axis before the units' (`(..., levels, units)`).
    levels = 1
    level_signs = level_multiples = None

    def __init__(self, units: int, states: int = 2):
        self.units = units
        self.states = states

    @property
    def channels(self) -> int:
        return self.states - 1

    @property
    def readout_width(self) -> int:
        """Blocks of `units` rows of `W_out`: V's, then one per channel of D."""
        return 1 + self.channels

    def threshold_initializer(self):
        """The threshold's default: the band `|V| <= threshold` where a memory
        moved by up and down spikes holds (at zero every step would move it)."""
        return initializers.Constant(COUNTER_THRESHOLD)

    def spike_count(self, up, down):
        """The spikes of each unit-step: up plus down."""
        return up + down

    def count(self, memory):
        """The count `0 .. states - 1` each unit holds, from `(..., channels * units)`
        (its expectation for a memory between counts); one bit: `D` itself."""
        return memory

    def step(self, memory, up, down):
        """D after one step, from the float32 memory `(batch, channels * units)`."""
        raise NotImplementedError

    def scan(self, up, down, memory0):
        """D at every step of whole sequences `(batch, time, units)` of spikes,
        from the float32 `memory0`, with the exact gradient of `step`."""
        raise NotImplementedError


class XorBit(DigitalMemory):
    """The paper's memory: each up spike flips the bit (the group Z_2)."""

    two_sided = False
    xor_bit = True

    def threshold_initializer(self):
        return "zeros"

    def spike_count(self, up, down):
        return up

    def step(self, memory, up, down):
        return xor_step(memory, up)

    def scan(self, up, down, memory0):
        return hsru_ops.xor_scan(up, memory0)


class Latch(DigitalMemory):
    """A set/reset flip-flop: an up spike sets it, a down spike resets it, it holds between."""

    def step(self, memory, up, down):
        return latch_step(memory, up, down)

    def scan(self, up, down, memory0):
        return hsru_ops.linear_scan(latch_hold(up, down), up * (1 - down), memory0)


class Counter(DigitalMemory):
    """A count modulo k (the group Z_k): an up spike adds one, a down spike takes one
    away, both leave it. `D` is one-hot over counts 1 to k - 1 (count 0 is what is left)."""

    def _counts(self, memory):
        """`(batch, channels * units)` as the distribution over the k counts,
        `(batch, k, units)`: count 0 holds what the others leave."""
        channels = ops.reshape(memory, (-1, self.channels, self.units))
        return ops.concatenate([1 - ops.sum(channels, axis=1, keepdims=True), channels], axis=1)

    def count(self, memory):
        return sum(
            index * memory[..., (index - 1) * self.units : index * self.units]
            for index in range(1, self.states)
        )

    def step(self, memory, up, down):
        counts = self.step_counts(self._counts(memory), up, down)
        return ops.reshape(counts[:, 1:], (-1, self.channels * self.units))

    def scan(self, up, down, memory0):
        counts = self.scan_counts(up, down, self._counts(memory0))
        shape = ops.shape(counts)
        return ops.reshape(counts[:, :, 1:], (shape[0], shape[1], self.channels * self.units))

    def step_counts(self, counts, up, down):
        """The distribution over the k counts `(batch, k, units)` after one step."""
        return counter_step(counts, up, down)

    def scan_counts(self, up, down, counts0):
        """The distributions over the k counts at every step, `(batch, time, k, units)`."""
        return hsru_ops.counter_scan(up, down, self.states, counts0)


class ResetCounter(Counter):
    """A count modulo k that V adds to or sets, by several counts a step.

    Above the threshold V adds: one count for each level `V > j * threshold`
    it passes, j = 1 .. k - 1, so one step reaches any count (down by one is
    up by k - 1). Below it V sets: a down spike, `V < -threshold`, resets the
    count to 0, and then one count is added for each level
    `-V > (j + 1) * threshold`, j = 1 .. k - 1, that V passes further down:
    `V` between `-(m + 2)` and `-(m + 1)` thresholds sets the count to m.
    Between, `|V| <= threshold`, it holds. Adding (the moves of Z_k) and
    setting (the constant maps) are the two kinds of transition that
    cascades of finite automata are built from; a count that spikes only
    turn cannot set.
    """

    def __init__(self, units: int, states: int = 2):
        super().__init__(units, states)
        moves = range(1, states)
        # The move spikes: H(sign * V - multiple * threshold), adding then setting.
        self.level_signs = [1.0] * (states - 1) + [-1.0] * (states - 1)
        self.level_multiples = [float(j) for j in moves] + [float(j + 1) for j in moves]
        self.levels = len(self.level_signs)

    def spike_count(self, up, down):
        return ops.sum(up, axis=-2) + down

    def step_counts(self, counts, up, down):
        return reset_counter_step(counts, up, down)

    def scan_counts(self, up, down, counts0):
        return hsru_ops.reset_counter_scan(up, down, self.states, counts0)


def memory_kind(memory: str, memory_states: int, units: int) -> DigitalMemory:
    """The kind the cell's `memory` and `memory_states` arguments (checked) name."""
    if memory == "latch":
        if memory_states != 2:
            raise ValueError(
                "A latch holds one bit: use memory='latch' with memory_states=2. "
                f"Received: memory='latch' with memory_states={memory_states!r}"
            )
        return Latch(units)
    if memory == "reset":
        return ResetCounter(units, memory_states)
    if memory_states == 2:
        return XorBit(units)
    return Counter(units, memory_states)
