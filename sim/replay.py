"""Log replay: a source node that publishes a dataset log's streams at their stamps.

Every stream the log has (or the chosen ones) becomes an output published on
``/log/<stream>`` unless a launch file wires it elsewhere. Frames are read ahead on a
background thread, so replay is bound by the nodes downstream, not by file reading.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from drivestack.bus.node import In, Inputs, Node, Out, TickOutput
from drivestack.bus.registry import NODES
from drivestack.datasets.log import Frame, SkippedFrame
from drivestack.datasets.readers import LOG_READERS, SAMPLES, ReplayConfig, open_log  # noqa: F401 (re-exported)
from drivestack.msgs import Message


@NODES.register("log_replay")
class LogReplay(Node):
    """Publishes each frame's messages at the frame's stamp; outputs are the log's streams."""

    Config = ReplayConfig
    config: ReplayConfig

    @classmethod
    def ports(cls, config: ReplayConfig) -> tuple[Mapping[str, In], Mapping[str, Out]]:
        present = open_log(config).streams()
        missing = [s for s in config.streams if s not in present]
        if missing:
            raise ValueError(f"log has no stream(s) {missing} (has: {sorted(present)})")
        chosen = config.streams or tuple(present)
        return {}, {s: Out(present[s], topic=f"/log/{s}") for s in chosen}

    def reset(self, seed: int) -> None:
        self.log = open_log(self.config)
        self.skipped: list[SkippedFrame] = []
        streams = list(self.ports(self.config)[1])
        self._frames: Iterator[tuple[Frame, dict[str, Message]]] = self.log.iter_messages(
            streams, self.config.read_ahead,
            on_error="lenient" if self.config.lenient else "strict", skipped=self.skipped,
        )
        self._next = next(self._frames, None)

    def time_span(self) -> tuple[int, int] | None:
        if len(self.log) == 0:
            return None
        return self.log[0].stamp_ns, self.log[-1].stamp_ns

    def first_wakeup(self, start_ns: int, period_ns: int | None) -> int | None:
        return None if self._next is None else self._next[0].stamp_ns

    def next_wakeup(self, now_ns: int, period_ns: int | None) -> int | None:
        return None if self._next is None else self._next[0].stamp_ns

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        out: dict[str, list[Message]] = {}
        while self._next is not None and self._next[0].stamp_ns <= now_ns:
            for stream, msg in self._next[1].items():
                out.setdefault(stream, []).append(msg)
            self._next = next(self._frames, None)
        return out
