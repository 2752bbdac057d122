"""Test one node without a pipeline: feed ``(input_key, message)`` pairs, get its outputs.

The harness runs the node in the real deterministic executor, behind a feeder that publishes
each message at its ``stamp_ns`` on the node's input, so what a test sees is what a pipeline
would do (ticks at the node's rate or on trigger inputs, queue depths, overflow).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from drivestack.bus.bus import Subscription
from drivestack.bus.deterministic import DeterministicExecutor
from drivestack.bus.executor import RunSummary
from drivestack.bus.graph import NodeSpec
from drivestack.bus.node import In, Inputs, Node, Out, TickOutput
from drivestack.msgs import Message


@dataclass(frozen=True)
class HarnessResult:
    """Outputs in publish order as ``(output_key, message)``, and the run's summary."""

    outputs: list[tuple[str, Message]]
    summary: RunSummary

    def of(self, key: str) -> list[Message]:
        """The messages published on output ``key``, in order."""
        return [m for k, m in self.outputs if k == key]


@dataclass(frozen=True)
class _FeedConfig:
    types: tuple[tuple[str, type[Message]], ...] = ()  # (output key, message type)


class _Feeder(Node):
    """Publishes scripted messages at their stamps (one output per fed input key)."""

    Config = _FeedConfig

    def __init__(self, config: _FeedConfig, feed: Sequence[tuple[str, Message]]):
        super().__init__(config, name="harness_feeder")
        self._feed = sorted(feed, key=lambda km: km[1].stamp_ns)  # stable: keeps ties in order
        self._pos = 0

    @classmethod
    def ports(cls, config: _FeedConfig) -> tuple[Mapping[str, In], Mapping[str, Out]]:
        return {}, {key: Out(t) for key, t in config.types}

    def first_wakeup(self, start_ns: int, period_ns: int | None) -> int | None:
        return self._feed[0][1].stamp_ns if self._feed else None

    def next_wakeup(self, now_ns: int, period_ns: int | None) -> int | None:
        return self._feed[self._pos][1].stamp_ns if self._pos < len(self._feed) else None

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        out: dict[str, list[Message]] = {}
        while self._pos < len(self._feed) and self._feed[self._pos][1].stamp_ns <= now_ns:
            key, msg = self._feed[self._pos]
            out.setdefault(key, []).append(msg)
            self._pos += 1
        return out


def run_node(
    node: Node,
    feed: Sequence[tuple[str, Message]],
    *,
    duration_s: float | None = None,
    rate_hz: float | None = None,
    seed: int = 0,
    on_error: str = "continue",
    realtime: bool = False,
) -> HarnessResult:
    """Runs ``node`` on ``feed`` and captures everything it publishes.

    Args:
        node: The node under test.
        feed: ``(input_key, message)`` pairs; each is delivered at its ``stamp_ns``.
        duration_s: [s] run length from the first stamp; default: until the feed is done
            (a node with a rate then ticks up to the last stamp).
        rate_hz: [Hz] overrides the node's rate.
        seed: The run's seed.
        on_error: As in the executors; failures are in ``summary.failures``.
        realtime: Tell the node it runs in real time (``Node.realtime``), so wall-clock
            budgets apply, while keeping the deterministic schedule.
    """
    ins, outs = type(node).ports(node.config)
    types: dict[str, type[Message]] = {}
    for key, _ in feed:
        if key not in ins:
            raise KeyError(f"{node.name} has no input {key!r} (has: {sorted(ins)})")
        types[key] = ins[key].type
    start = min((m.stamp_ns for _, m in feed), default=0)
    if duration_s is None:
        end = max((m.stamp_ns for _, m in feed), default=0)
        duration_s = (end - start) / 1e9
    feeder = _Feeder(_FeedConfig(tuple(types.items())), feed)
    specs = [
        NodeSpec("harness_feeder", feeder, outputs={k: f"/in/{k}" for k in types}),
        NodeSpec(
            node.name,
            node,
            inputs={k: f"/in/{k}" for k in types},
            outputs={k: f"/out/{k}" for k in outs},
            rate_hz=rate_hz,
        ),
    ]
    ex = DeterministicExecutor(specs, seed=seed, on_error=on_error)
    ex.realtime = realtime
    captured: list[tuple[str, Message]] = []
    for key in outs:
        ex.bus.subscribe(f"/out/{key}", notify=_capture(key, captured))
    summary = ex.run(duration_s=duration_s, start_ns=start)
    return HarnessResult(captured, summary)


def _capture(key: str, into: list[tuple[str, Message]]) -> Callable[[Subscription], None]:
    def take(sub: Subscription) -> None:
        into.append((key, sub.buf.pop()))

    return take
