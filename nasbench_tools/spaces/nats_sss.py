"""NATS-Bench size search space (NATS-sss): 32,768 channel configurations of one fixed network.

Every candidate is NATS-Bench's ``infer.shape.tiny`` network (``DynamicShapeTinyNet``): the
NAS-Bench-201 skeleton with one cell per stage, so five layers

    cell, reduction block, cell, reduction block, cell

each with its own width taken from ``{8, 16, 24, 32, 40, 48, 56, 64}`` (the stem has the first
layer's width). Every cell is the fixed NB201 cell :data:`CELL` (the best CIFAR-10 cell of the
topology space). The benchmark writes a configuration as the five widths joined by colons,
``"8:16:24:32:40"``.

:class:`SizeConfig` converts losslessly between that string, the benchmark index and the width
tuple. The index order is the real NATS-Bench order (``meta_archs`` of
``NATS-sss-v1_0-50262-simple/meta.pickle.pbz2``), which is a formula: the five widths are the
digits of the index in base 8, the first width the most significant (``"8:8:8:8:16"`` is index
1, ``"16:8:8:8:8"`` is 4096); a test checks all 32,768 entries against the real file, so no
table is shipped.

Unlike NB201, no two configurations compute the same function, so every index is its own
isomorphism class.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from ..errors import InvalidArchError, NasbenchToolsError, QueryError
from .base import Space, register_space
from .encodings import register_encoding

__all__ = [
    "CELL",
    "CHANNEL_CHOICES",
    "LAYERS",
    "NETWORK_NAME",
    "NUM_CONFIGS",
    "NUM_LAYERS",
    "NATSSizeSpace",
    "SizeConfig",
    "all_configs",
    "channel_matrix",
    "sample",
]

#: The candidate widths of every layer, in NATS-Bench's order.
CHANNEL_CHOICES: tuple[int, ...] = (8, 16, 24, 32, 40, 48, 56, 64)
#: What each of the five positions of a configuration is.
LAYERS: tuple[str, ...] = ("cell", "reduction", "cell", "reduction", "cell")
NUM_LAYERS = len(LAYERS)
NUM_CONFIGS = len(CHANNEL_CHOICES) ** NUM_LAYERS  # 32,768
#: The fixed cell of every candidate (NB201 arch string), as the records' ``genotype`` states it.
CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
#: The network name in NATS-Bench's records (``arch_config['name']``).
NETWORK_NAME = "infer.shape.tiny"

_BASE = len(CHANNEL_CHOICES)
_CHOICE_OF = {c: i for i, c in enumerate(CHANNEL_CHOICES)}
_PLACE = _BASE ** np.arange(NUM_LAYERS - 1, -1, -1)  # first width = most significant digit


def _choices_to_index(choices: Sequence[int]) -> int:
    return int(np.dot(choices, _PLACE))


def _index_to_choices(index: int) -> tuple[int, ...]:
    out = []
    for _ in range(NUM_LAYERS):
        index, digit = divmod(index, _BASE)
        out.append(digit)
    return tuple(reversed(out))


def _is_int(v) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


class SizeConfig:
    """One NATS-sss configuration: five layer widths. Immutable and hashable.

    Build one with :meth:`from_string`, :meth:`from_index`, :meth:`from_channels`,
    :meth:`from_choices` or :meth:`parse`; invalid input raises
    :class:`~nasbench_tools.errors.InvalidArchError` naming the value and what was expected.

    Examples
    --------
    >>> c = SizeConfig.from_string("8:8:40:32:40")
    >>> c.index, c.channels
    (284, (8, 8, 40, 32, 40))
    >>> SizeConfig.from_index(11).to_string()
    '8:8:8:16:32'
    """

    __slots__ = ("_choices",)

    def __init__(self, channels: Sequence[int]):
        self._choices = _validate_channels(channels)

    @classmethod
    def _trusted(cls, choices: tuple[int, ...]) -> SizeConfig:
        c = object.__new__(cls)
        c._choices = choices
        return c

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_string(cls, s: str) -> SizeConfig:
        """Parse NATS-Bench's ``"C1:C2:C3:C4:C5"`` (exactly five widths, no spaces)."""
        if not isinstance(s, str):
            raise InvalidArchError(
                f"a NATS-sss configuration string must be a str, got {type(s).__name__}"
            )
        parts = s.split(":")
        if len(parts) != NUM_LAYERS:
            raise InvalidArchError(
                f"NATS-sss configuration {s!r} has {len(parts)} widths separated by ':', expected "
                f"{NUM_LAYERS} (format C1:C2:C3:C4:C5, each in {list(CHANNEL_CHOICES)})"
            )
        widths = []
        for pos, tok in enumerate(parts):
            if not tok.isdigit() or not tok.isascii() or str(int(tok)) != tok:
                raise InvalidArchError(
                    f"width {pos + 1} of NATS-sss configuration {s!r} is {tok!r}, not a plain "
                    f"decimal integer in {list(CHANNEL_CHOICES)}"
                )
            widths.append(int(tok))
        return cls(widths)

    @classmethod
    def from_index(cls, index: int) -> SizeConfig:
        """The configuration at NATS-sss benchmark index ``index`` (0..32767)."""
        if not _is_int(index):
            raise InvalidArchError(f"a NATS-sss index must be an int, got {type(index).__name__}")
        if not 0 <= index < NUM_CONFIGS:
            raise InvalidArchError(
                f"NATS-sss index {index} out of range; expected 0..{NUM_CONFIGS - 1}"
            )
        return cls._trusted(_index_to_choices(int(index)))

    @classmethod
    def from_channels(cls, channels: Sequence[int]) -> SizeConfig:
        """From the five widths, each in :data:`CHANNEL_CHOICES`."""
        return cls(channels)

    @classmethod
    def from_choices(cls, choices: Sequence[int]) -> SizeConfig:
        """From five positions into :data:`CHANNEL_CHOICES` (0..7; 0 is width 8)."""
        t = _five(choices, "choice")
        bad = [v for v in t if not _is_int(v) or not 0 <= v < _BASE]
        if bad:
            raise InvalidArchError(
                f"NATS-sss choice {bad[0]!r} in {t!r} is not an integer in 0..{_BASE - 1}"
            )
        return cls._trusted(tuple(int(v) for v in t))

    @classmethod
    def parse(cls, value) -> SizeConfig:
        """A :class:`SizeConfig`, a ``"C1:...:C5"`` string, an index (int or digit string) or a
        sequence of five widths."""
        if isinstance(value, SizeConfig):
            return value
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("-").isdigit():
                return cls.from_index(int(text))
            return cls.from_string(text)
        if _is_int(value):
            return cls.from_index(int(value))
        if isinstance(value, Sequence | np.ndarray):
            return cls(value)
        raise InvalidArchError(f"cannot interpret {value!r} as a NATS-sss configuration")

    # ------------------------------------------------------------------ views
    @property
    def channels(self) -> tuple[int, ...]:
        """The five widths: stem and first cell, first reduction block, second cell, second
        reduction block, third cell."""
        return tuple(CHANNEL_CHOICES[i] for i in self._choices)

    @property
    def choices(self) -> tuple[int, ...]:
        """The five widths as positions in :data:`CHANNEL_CHOICES` (0..7)."""
        return self._choices

    @property
    def index(self) -> int:
        """The NATS-sss benchmark index (0..32767)."""
        return _choices_to_index(self._choices)

    def to_string(self) -> str:
        return ":".join(str(c) for c in self.channels)

    # ------------------------------------------------------------------ dunder
    def __eq__(self, other) -> bool:
        return isinstance(other, SizeConfig) and self._choices == other._choices

    def __hash__(self) -> int:
        return hash(("nats-sss", self._choices))

    def __repr__(self) -> str:
        return f"SizeConfig('{self.to_string()}')"

    def __str__(self) -> str:
        return self.to_string()

    def __reduce__(self):
        return (SizeConfig, (self.channels,))


def _five(values, what: str) -> tuple:
    if isinstance(values, str):
        raise InvalidArchError(
            f"expected {NUM_LAYERS} {what}s, got the string {values!r}; use "
            "SizeConfig.from_string for 'C1:C2:C3:C4:C5'"
        )
    try:
        t = tuple(values.tolist() if isinstance(values, np.ndarray) else values)
    except TypeError:
        raise InvalidArchError(f"expected {NUM_LAYERS} {what}s, got {values!r}") from None
    if len(t) != NUM_LAYERS:
        raise InvalidArchError(
            f"a NATS-sss configuration has {NUM_LAYERS} layers, got {len(t)} {what}s: {t!r}"
        )
    return t


def _validate_channels(channels) -> tuple[int, ...]:
    t = _five(channels, "width")
    for v in t:
        if not _is_int(v) or int(v) not in _CHOICE_OF:
            raise InvalidArchError(
                f"width {v!r} in NATS-sss configuration {t!r} is not one of {list(CHANNEL_CHOICES)}"
            )
    return tuple(_CHOICE_OF[int(v)] for v in t)


# --------------------------------------------------------------------------- the whole space
@cache
def _choice_table() -> np.ndarray:
    digits = (np.arange(NUM_CONFIGS)[:, None] // _PLACE[None, :]) % _BASE
    digits = digits.astype(np.int8)
    digits.setflags(write=False)
    return digits


@cache
def _channel_table() -> np.ndarray:
    table = np.asarray(CHANNEL_CHOICES, dtype=np.int64)[_choice_table()]
    table.setflags(write=False)
    return table


def channel_matrix() -> np.ndarray:
    """Read-only ``(32768, 5)`` int64 array: row ``i`` holds the widths of index ``i``."""
    return _channel_table()


def all_configs() -> list[SizeConfig]:
    """Every configuration, in benchmark-index order."""
    return [SizeConfig._trusted(tuple(int(v) for v in row)) for row in _choice_table()]


def sample(n: int, *, seed: int, replace: bool = False) -> list[SizeConfig]:
    """``n`` configurations drawn uniformly with an explicit ``seed`` (numpy ``default_rng``).

    ``replace=False`` draws ``n`` distinct configurations (at most 32,768).
    """
    if not _is_int(n) or n < 0:
        raise QueryError(f"n must be a non-negative int, got {n!r}")
    if not _is_int(seed):
        raise QueryError(f"seed must be an int (no random default), got {seed!r}")
    if not replace and n > NUM_CONFIGS:
        raise QueryError(f"cannot sample {n} distinct NATS-sss configurations: only {NUM_CONFIGS}")
    rng = np.random.default_rng(int(seed))
    rows = rng.choice(NUM_CONFIGS, size=int(n), replace=replace)
    table = _choice_table()
    return [SizeConfig._trusted(tuple(int(v) for v in table[r])) for r in rows]


# --------------------------------------------------------------------------- encodings
_POSITIONS = [f"layer{i}" for i in range(NUM_LAYERS)]


def _choices(configs) -> np.ndarray:
    return np.array([SizeConfig.parse(c).choices for c in configs], dtype=np.int64).reshape(
        len(configs), NUM_LAYERS
    )


@register_encoding("onehot", "nats-sss", [f"{p}={c}" for p in _POSITIONS for c in CHANNEL_CHOICES])
def _onehot(configs):
    """One-hot width per layer (40 columns)."""
    return np.eye(_BASE, dtype=np.int8)[_choices(configs)].reshape(len(configs), -1)


@register_encoding("categorical", "nats-sss", _POSITIONS)
def _categorical(configs):
    """Width per layer as its position in CHANNEL_CHOICES, 0..7 (5 columns)."""
    return _choices(configs).astype(np.int8)


# --------------------------------------------------------------------------- the Space
class NATSSizeSpace(Space):
    """NATS-Bench size search space: 32,768 channel configurations keyed by benchmark index."""

    name = "nats-sss"
    title = "NATS-Bench size search space (sss)"
    key_kind = "index"
    key_column = "index"
    alt_key_columns = ("arch_str",)
    size = NUM_CONFIGS
    arch_type = SizeConfig
    network = "nasbench_tools.nn.nats_sss:build_network"

    def parse(self, value) -> SizeConfig:
        return SizeConfig.parse(value)

    def key(self, arch) -> int:
        return SizeConfig.parse(arch).index

    def arch(self, key) -> SizeConfig:
        return SizeConfig.from_index(key)

    def network_options(
        self, *, C: int, N: int, num_classes: int, in_channels: int, image_size: int
    ) -> dict:
        """Refused: a size-space architecture *is* its widths (and the depth is fixed), so a
        protocol's ``C`` and ``N`` cannot apply; build its networks with ``build_network``."""
        raise NasbenchToolsError(
            f"space {self.name!r}: the widths and depth of a network are its architecture, so a "
            f"protocol's C={C} and N={N} cannot apply"
        )

    def to_string(self, arch) -> str:
        return SizeConfig.parse(arch).to_string()

    def describe(self, arch) -> str:
        c = SizeConfig.parse(arch)
        return f"NATS-sss configuration {c.index} {c.to_string()}"

    @property
    def class_kind(self) -> str:
        return "every configuration is its own class (no two compute the same function)"

    def strings(self, keys) -> list[str]:
        """Configuration strings of many keys at once."""
        idx = np.asarray(keys, dtype=np.int64).reshape(-1)
        bad = (idx < 0) | (idx >= NUM_CONFIGS)
        if bad.any():
            raise InvalidArchError(
                f"NATS-sss index {int(idx[bad][0])} out of range; expected 0..{NUM_CONFIGS - 1}"
            )
        table = _channel_table()
        return [":".join(map(str, table[i])) for i in idx.tolist()]


SPACE = register_space(NATSSizeSpace())
