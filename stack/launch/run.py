"""Running a loaded launch file: build the executor, tap topics, optionally record, return the summary."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

from tqdm import tqdm

from drivestack.bus.bus import Bus, Subscription
from drivestack.bus.deterministic import DeterministicExecutor
from drivestack.bus.executor import RunSummary
from drivestack.bus.graph import NodeSpec
from drivestack.bus.realtime import RealtimeExecutor
from drivestack.launch.loader import Launch
from drivestack.msgs import Message
from drivestack.record.mcap_io import Recorder


def run_launch(launch: Launch, specs: Sequence[NodeSpec], *, quiet: bool = False,
               start_ns: int | None = None,
               taps: Mapping[str, Callable[[Message], None]] | None = None) -> RunSummary:
    """Runs ``specs`` with ``launch``'s settings, recording if asked. SIGINT and SIGTERM end the
    run cleanly: the recording is closed and complete.

    ``taps`` maps topic names to callbacks that receive every message published there (a
    command that judges the run, e.g. ``drive sim``, reads its topics this way).
    """
    kwargs = dict(on_error=launch.on_error, validate=launch.validate, seed=launch.seed)
    recorder = Recorder(launch.record_path) if launch.record_path else None
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        if launch.executor == "realtime":
            rt = RealtimeExecutor(specs, speed=launch.speed, **kwargs)
            if recorder:
                recorder.attach(rt.bus, launch.record_topics)
            _tap(rt.bus, taps)
            return rt.run(launch.duration_s, start_ns=start_ns)
        ex = DeterministicExecutor(specs, **kwargs)
        if recorder:
            recorder.attach(ex.bus, launch.record_topics)
        _tap(ex.bus, taps)
        with tqdm(total=launch.duration_s, unit="s", desc=launch.path.stem, disable=quiet or None,
                  file=sys.stderr, bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s [{elapsed}]") as bar:
            origin: list[int] = []

            def progress(now_ns: int) -> None:
                if not origin:  # the run has reset its nodes: the sources' span is known now
                    span = ex.time_span()
                    origin.append(span[0] if span else now_ns)
                    if bar.total is None and span:
                        bar.total = (span[1] - span[0]) / 1e9
                elapsed = (now_ns - origin[0]) / 1e9
                if elapsed - bar.n >= 0.1:
                    bar.update(elapsed - bar.n)

            return ex.run(launch.duration_s, start_ns=start_ns, progress=progress)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if recorder:
            recorder.close()


def _tap(bus: Bus, taps: Mapping[str, Callable[[Message], None]] | None) -> None:
    for name, callback in (taps or {}).items():

        def on_message(sub: Subscription, callback: Callable[[Message], None] = callback) -> None:
            callback(sub.buf.pop())

        bus.subscribe(name, depth=1, notify=on_message)


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
