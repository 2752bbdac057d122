"""The node contract: what a node declares in one place, and the one method it implements.

A node is a class that declares, as class attributes:

- ``Config``: a frozen dataclass of parameters with defaults (launch files override fields);
- ``inputs``: ``{key: In(MessageType, ...)}``, what it reads;
- ``outputs``: ``{key: Out(MessageType)}``, what it publishes;
- ``rate_hz``: how often it ticks on its own, or ``None`` to tick only when a message arrives
  on an input declared with ``trigger=True``;
- ``deadline_s``: the real-time executor counts ticks that take longer as deadline misses.

and implements ``tick(now_ns, inputs) -> {output_key: message or [messages]}``, which should
call pure functions (``state = update(state, detections, dt)``). Example::

    @dataclass(frozen=True)
    class GateConfig:
        max_range: float = 50.0  # [m] drop detections farther than this

    class Gate(Node):
        Config = GateConfig
        inputs = {"detections": In(Detections3D, trigger=True)}
        outputs = {"near": Out(Detections3D)}

        def tick(self, now_ns, inputs):
            return {"near": [keep_near(d, self.config.max_range) for d in inputs["detections"]]}

Nodes are wired to topic names by a launch file (``drivestack.launch``) or directly with
:class:`drivestack.bus.graph.NodeSpec`; ``drivestack.bus.harness.run_node`` tests one node.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from drivestack.msgs import Message

OVERFLOW_POLICIES = ("keep_last", "drop_new")

TickOutput = Mapping[str, Message | Sequence[Message]] | None


@dataclass(frozen=True)
class In:
    """An input port.

    Attributes:
        type: Message type accepted (subclasses too).
        required: A launch file must connect it.
        depth: Messages kept between two ticks (a bounded queue).
        overflow: What a full queue does with a new message: ``"keep_last"`` drops the oldest,
            ``"drop_new"`` drops the new one. Either way the drop is counted on the topic.
        trigger: A message arriving here makes the node tick.
    """

    type: type[Message]
    required: bool = True
    depth: int = 1
    overflow: str = "keep_last"
    trigger: bool = False

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ValueError(f"In.depth must be >= 1, got {self.depth}")
        if self.overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"In.overflow must be one of {OVERFLOW_POLICIES}, got {self.overflow!r}")


@dataclass(frozen=True)
class Out:
    """An output port publishing messages of ``type``.

    Attributes:
        type: Message type published.
        topic: Default topic when a launch file does not wire the port; ``None`` means
            ``/<node name>/<key>``.
    """

    type: type[Message]
    topic: str | None = None


@dataclass(frozen=True)
class NoConfig:
    """The config of a node without parameters."""


class Inputs:
    """What a tick sees: the messages that arrived on each input since the last tick.

    ``inputs[key]`` is the sequence of new messages (oldest first, at most the port's
    ``depth``); ``inputs.last(key)`` is the newest message ever received on ``key``, or
    ``None``. The sequences belong to this tick: keep the messages, not the sequences.
    """

    __slots__ = ("_new", "_last")

    def __init__(self, new: dict[str, Sequence[Message]], last: dict[str, Message | None]):
        self._new = new
        self._last = last

    def __getitem__(self, key: str) -> Sequence[Message]:
        return self._new[key]

    def last(self, key: str) -> Message | None:
        return self._last[key]

    def keys(self) -> Sequence[str]:
        return list(self._new)


class Node(ABC):
    """Base class of every node. See the module docstring for what a subclass declares."""

    Config: ClassVar[type] = NoConfig
    inputs: ClassVar[Mapping[str, In]] = {}
    outputs: ClassVar[Mapping[str, Out]] = {}
    rate_hz: ClassVar[float | None] = None
    deadline_s: ClassVar[float | None] = None

    realtime: bool = False
    """Set by the executor: ``True`` on the real-time executor. Work cut short by the wall
    clock (a planner's time budget) must only be cut when this is true: a deterministic run
    that stopped a search by the clock would give different outputs on a slower machine."""

    def __init__(self, config: Any = None, *, name: str | None = None):
        if config is None:
            config = self.Config()
        if not isinstance(config, self.Config):
            raise TypeError(
                f"{type(self).__name__} needs a {self.Config.__name__} config, "
                f"got {type(config).__name__}"
            )
        self.config = config
        self.name = name or type(self).__name__

    @classmethod
    def ports(cls, config: Any) -> tuple[Mapping[str, In], Mapping[str, Out]]:
        """The ports for ``config``. Override only where they depend on it (log players)."""
        return cls.inputs, cls.outputs

    def reset(self, seed: int) -> None:
        """Clears per-run state before a run; ``seed`` is this node's own, derived from the
        run's seed and the node's name, so runs are reproducible."""

    def next_wakeup(self, now_ns: int, period_ns: int | None) -> int | None:
        """When the node next ticks on its own, given the current time and its period.

        The default ticks every ``period_ns`` (from ``rate_hz``), or never without a rate.
        Sources override it (a log player wakes at the next logged stamp) and return ``None``
        when exhausted; a run without a duration ends when no node will wake again.
        """
        return None if period_ns is None else now_ns + period_ns

    def time_span(self) -> tuple[int, int] | None:
        """For sources that know it: [ns] (first, last) stamp they will publish.

        Executors start the run clock at the earliest first stamp of all sources (logs carry
        their own clocks), and progress bars show how far through the span a run is.
        """
        return None

    def first_wakeup(self, start_ns: int, period_ns: int | None) -> int | None:
        """The first self-scheduled tick. Default: at the start if the node has a rate."""
        return None if period_ns is None else start_ns

    @abstractmethod
    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        """Reads ``inputs`` and returns ``{output_key: message or list of messages}``.

        Args:
            now_ns: [ns] the run's clock (simulated in the deterministic executor).
            inputs: New messages per input key; see :class:`Inputs`.
        """

