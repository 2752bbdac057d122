"""A source node that plays a recording back onto the bus at the recorded times."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache

from drivestack.bus.node import In, Inputs, Node, Out, TickOutput
from drivestack.bus.registry import NODES
from drivestack.msgs import MESSAGE_TYPES, Message
from drivestack.record.mcap_io import RecordedMessage, Recording


@dataclass(frozen=True)
class PlayerConfig:
    path: str = ""  # the MCAP recording
    topics: tuple[str, ...] = ()  # topics to play; empty: all
    start_s: float = 0.0  # [s] skip this much from the recording's first message
    end_s: float | None = None  # [s] stop this long after the first message; None: to the end
    loop: bool = False  # start over at the end (stamps keep increasing)

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("path: the recording to play is required")
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")


@cache
def _recorded_topics(path: str) -> dict[str, str]:
    return Recording(path).topics()


@NODES.register("mcap_player")
class McapPlayer(Node):
    """Publishes each recorded message on its recorded topic at its log time.

    Outputs are the recording's topics (keys are the topic names, published on the same
    names unless wired elsewhere). With ``loop``, each pass is shifted by the recording's
    span so time and stamps keep increasing.
    """

    Config = PlayerConfig
    config: PlayerConfig

    @classmethod
    def ports(cls, config: PlayerConfig) -> tuple[Mapping[str, In], Mapping[str, Out]]:
        recorded = _recorded_topics(config.path)
        missing = [t for t in config.topics if t not in recorded]
        if missing:
            raise ValueError(f"{config.path}: no topics {missing} (recorded: {sorted(recorded)})")
        outs = {}
        for topic, schema in recorded.items():
            if config.topics and topic not in config.topics:
                continue
            if schema not in MESSAGE_TYPES:
                raise ValueError(f"{config.path}: topic {topic!r} has unknown type {schema!r}")
            outs[topic] = Out(MESSAGE_TYPES[schema], topic=topic)
        return {}, outs

    def reset(self, seed: int) -> None:
        recording = Recording(self.config.path)
        first = next(iter(recording.messages()), None)
        self._recording = recording
        self._first = 0 if first is None else first.log_time_ns
        self._start = self._first + round(self.config.start_s * 1e9)
        self._end = None if self.config.end_s is None else self._first + round(self.config.end_s * 1e9)
        self._offset = 0
        self._iter = self._pass()
        self._next: RecordedMessage | None = next(self._iter, None)
        self.truncated: str | None = None
        self.notes: list[str] = []  # what the recording lost: corrupted chunks, early end

    def _pass(self) -> Iterator[RecordedMessage]:
        topics = self.config.topics or None
        return self._recording.messages(topics, self._start, self._end)

    def first_wakeup(self, start_ns: int, period_ns: int | None) -> int | None:
        return None if self._next is None else self._next.log_time_ns

    def next_wakeup(self, now_ns: int, period_ns: int | None) -> int | None:
        if self._next is None:
            self.truncated = self._recording.truncated
            self.notes = self._recording.notes
            if not self.config.loop:
                return None
            last = now_ns - self._offset
            span = max(1, last - self._start)
            self._offset += span + max(1, span // 100)
            self._iter = self._pass()
            self._next = next(self._iter, None)
            if self._next is None:
                return None
        return self._next.log_time_ns + self._offset

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        out: dict[str, list[Message]] = {}
        while self._next is not None and self._next.log_time_ns + self._offset <= now_ns:
            msg = self._next.decode()
            if self._offset:
                msg = dataclasses.replace(msg, stamp_ns=msg.stamp_ns + self._offset)
            out.setdefault(self._next.topic, []).append(msg)
            self._next = next(self._iter, None)
        return out
