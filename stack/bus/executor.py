"""What both executors share: wiring nodes to a bus, ticking one node safely, the run summary."""

from __future__ import annotations

import json
import traceback
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from drivestack.bus.bus import Bus, LockedSubscription, Subscription, Topic, TopicStats
from drivestack.bus.graph import NodeSpec, resolve_topics
from drivestack.bus.node import Inputs
from drivestack.msgs import Message

ON_ERROR = ("continue", "stop")


class RunStopped(RuntimeError):
    """A node raised and the run's policy is ``on_error: stop``."""


@dataclass(frozen=True)
class NodeFailure:
    """A tick that raised. The run records it and goes on (or stops, by policy).

    Attributes:
        node: The node's name.
        now_ns: [ns] run clock at the tick.
        input_stamps: Stamps of the messages the tick was given, per input key.
        error: ``"ExceptionType: message"``.
        traceback: The formatted traceback.
    """

    node: str
    now_ns: int
    input_stamps: dict[str, list[int]]
    error: str
    traceback: str

    def describe(self) -> str:
        stamps = ", ".join(
            f"{k}@{[s / 1e9 for s in v]}s" for k, v in self.input_stamps.items() if v
        )
        return (
            f"node {self.node!r} raised at t={self.now_ns / 1e9:.3f} s"
            f" (inputs: {stamps or 'none'}): {self.error}"
        )


@dataclass(frozen=True)
class NodeStats:
    name: str
    ticks: int
    failures: int
    deadline_misses: int
    tick_p50_ms: float
    tick_p99_ms: float
    tick_max_ms: float


@dataclass
class RunSummary:
    """What a run did: per-topic and per-node statistics and every failure."""

    executor: str
    start_ns: int
    end_ns: int
    wall_s: float
    topics: list[TopicStats]
    nodes: list[NodeStats]
    failures: list[NodeFailure] = field(default_factory=list)
    stopped: str | None = None  # why the run ended early, if it did

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def format(self) -> str:
        """A human-readable table of topics, nodes and failures."""
        lines = [
            f"{self.executor} run: {(self.end_ns - self.start_ns) / 1e9:.2f} s on the run clock, "
            f"{self.wall_s:.2f} s wall",
            f"{'topic':32} {'type':18} {'count':>7} {'rate Hz':>8} {'p50 ms':>8} "
            f"{'p99 ms':>8} {'drops':>6}",
        ]
        for t in self.topics:
            lines.append(
                f"{t.topic:32} {t.type:18} {t.count:7d} {t.rate_hz:8.2f} "
                f"{t.latency_p50_ms:8.3f} {t.latency_p99_ms:8.3f} {t.drops:6d}"
            )
        lines.append(
            f"{'node':32} {'ticks':>7} {'fail':>5} {'missed':>6} {'p50 ms':>8} {'p99 ms':>8}"
        )
        for n in self.nodes:
            lines.append(
                f"{n.name:32} {n.ticks:7d} {n.failures:5d} {n.deadline_misses:6d} "
                f"{n.tick_p50_ms:8.3f} {n.tick_p99_ms:8.3f}"
            )
        for f in self.failures:
            lines.append("FAILED: " + f.describe())
        if self.stopped:
            lines.append(f"STOPPED: {self.stopped}")
        return "\n".join(lines)


def node_seed(run_seed: int, node_name: str) -> int:
    """A node's own seed: stable across runs and processes (no ``hash()`` randomisation)."""
    return zlib.crc32(f"{run_seed}:{node_name}".encode())


class _Wired:
    """One node with its subscriptions, output topics and counters."""

    __slots__ = (
        "spec", "node", "subs", "sub_items", "last", "new", "inputs", "out_topics",
        "ticks", "durations", "misses", "period_ns", "deadline_ns", "validate",
    )

    def __init__(self, spec: NodeSpec, validate: bool):
        self.spec = spec
        self.node = spec.node
        self.subs: dict[str, Subscription] = {}
        self.last: dict[str, Message | None] = {}
        self.out_topics: dict[str, Topic] = {}
        self.ticks = 0
        self.durations: list[int] = []
        self.misses = 0
        self.period_ns = spec.period_ns
        self.deadline_ns = spec.deadline_ns
        self.validate = validate
        self.sub_items: tuple[tuple[str, Subscription], ...] = ()
        self.new: dict[str, Sequence[Message]] = {}
        self.inputs = Inputs(self.new, self.last)


class Executor(ABC):
    """Wires ``specs`` onto a bus; subclasses decide when nodes tick.

    Args:
        specs: The pipeline.
        on_error: ``"continue"`` isolates a failing node (recorded, run goes on);
            ``"stop"`` ends the run at the first failure.
        validate: Check every published message with ``Message.validate()``.
        seed: The run's seed; each node gets its own derived from it.
        external: Topics published from outside the pipeline, with types.
        threadsafe: Locked queues (the real-time executor).
    """

    name = "executor"
    realtime = False  # nodes see this as Node.realtime

    def __init__(
        self,
        specs: Sequence[NodeSpec],
        *,
        on_error: str = "continue",
        validate: bool = True,
        seed: int = 0,
        external: Mapping[str, type[Message]] | None = None,
        threadsafe: bool = False,
    ):
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        self.on_error = on_error
        self.seed = seed
        self.bus = Bus(threadsafe=threadsafe)
        for topic, msg_type in resolve_topics(specs, external).items():
            self.bus.declare(topic, msg_type)
        self.failures: list[NodeFailure] = []
        self.wired: list[_Wired] = []
        for index, spec in enumerate(specs):
            w = _Wired(spec, validate)
            ins, outs = spec.ports()
            for key, port in ins.items():
                in_topic = spec.inputs.get(key)
                w.last[key] = None
                if in_topic is not None:
                    notify = self._trigger_hook(index) if port.trigger else None
                    w.subs[key] = self.bus.subscribe(in_topic, port.depth, port.overflow, notify)
            for key in outs:
                w.out_topics[key] = self.bus.topics[spec.output_topic(key)]
            w.sub_items = tuple(w.subs.items())
            # One dict and one Inputs per node, refilled each tick (valid during a tick only).
            w.new = {k: () for k in ins}
            w.inputs = Inputs(w.new, w.last)
            self.wired.append(w)

    @abstractmethod
    def _trigger_hook(self, index: int) -> Callable[[Subscription], None]:
        """The callback that wakes node ``index`` when a trigger input receives a message."""

    def _reset_nodes(self) -> None:
        for w in self.wired:
            w.node.realtime = self.realtime
            w.node.reset(node_seed(self.seed, w.spec.name))

    def time_span(self) -> tuple[int, int] | None:
        """[ns] (first, last) stamp over the sources that know theirs (after a reset)."""
        spans = [s for w in self.wired if (s := w.node.time_span()) is not None]
        if not spans:
            return None
        return min(s[0] for s in spans), max(s[1] for s in spans)

    def _start(self, start_ns: int | None) -> int:
        """Resets the nodes and picks the clock's start: given, else the sources' first stamp."""
        self._reset_nodes()
        if start_ns is not None:
            return start_ns
        span = self.time_span()
        return 0 if span is None else span[0]

    def _tick(self, w: _Wired, now_ns: int, clock: Callable[[], int]) -> None:
        """Runs one tick of ``w`` at ``now_ns`` and publishes what it returns.

        A raising tick (or an output that fails validation or the topic's type) is recorded
        as a :class:`NodeFailure`; with ``on_error="stop"`` it raises :class:`RunStopped`.
        """
        new = w.new
        for key, sub in w.sub_items:
            if sub.buf:
                # Take the queue inline (no call per input on this hot path); latencies are
                # stamp-to-consumption.
                if sub.lock is None:
                    msgs = sub.buf
                    sub.buf = []
                else:
                    assert isinstance(sub, LockedSubscription)  # a lock means a locked queue
                    msgs = sub.take_locked()
                lat = sub.latencies
                for m in msgs:
                    lat.append(now_ns - m.stamp_ns)
                new[key] = msgs
                w.last[key] = msgs[-1]
            else:
                new[key] = ()
        t0 = clock()
        try:
            out = w.node.tick(now_ns, w.inputs)
            if out:
                self._publish(w, out, now_ns)
        except Exception as exc:  # noqa: BLE001 - isolation is the point: record, then go on
            self._record_failure(w, now_ns, new, exc, clock() - t0)
            return
        dt = clock() - t0
        w.ticks += 1
        w.durations.append(dt)
        if w.deadline_ns is not None and dt > w.deadline_ns:
            w.misses += 1

    @staticmethod
    def _publish(w: _Wired, out: Mapping[str, Message | Sequence[Message]], now_ns: int) -> None:
        publish = Bus.publish_on
        topics = w.out_topics
        for key, value in out.items():
            topic = topics.get(key)
            if topic is None:
                raise KeyError(f"tick returned unknown output {key!r} (declared: {sorted(topics)})")
            if isinstance(value, Message):
                if w.validate:
                    value.validate()
                publish(topic, value, now_ns)
            else:
                for msg in value:
                    if w.validate:
                        msg.validate()
                    publish(topic, msg, now_ns)

    def _record_failure(
        self, w: _Wired, now_ns: int, new: Mapping[str, Sequence[Message]], exc: Exception, dt: int
    ) -> None:
        w.ticks += 1
        w.durations.append(dt)
        failure = NodeFailure(
            node=w.spec.name,
            now_ns=now_ns,
            input_stamps={k: [m.stamp_ns for m in v] for k, v in new.items() if v},
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        )
        self.failures.append(failure)
        if self.on_error == "stop":
            raise RunStopped(failure.describe()) from exc

    def _summary(self, start_ns: int, end_ns: int, wall_s: float, stopped: str | None) -> RunSummary:
        nodes = []
        for w in self.wired:
            d = np.asarray(w.durations, dtype=np.float64) / 1e6
            p50, p99, mx = (np.percentile(d, 50), np.percentile(d, 99), d.max()) if d.size else (0, 0, 0)
            fails = sum(1 for f in self.failures if f.node == w.spec.name)
            nodes.append(
                NodeStats(w.spec.name, w.ticks, fails, w.misses, float(p50), float(p99), float(mx))
            )
        return RunSummary(
            self.name, start_ns, end_ns, wall_s, self.bus.stats(), nodes, list(self.failures),
            stopped,
        )
