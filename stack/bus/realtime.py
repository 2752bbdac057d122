"""The real-time executor: a thread per node, wall-clock rates, bounded queues, deadlines.

Each node runs on its own thread. A node with a rate ticks on the wall clock (scaled by
``speed``: 2.0 replays a log twice as fast); a node with trigger inputs wakes when a message
arrives. Queues are bounded per subscription with the port's overflow policy, drops are
counted per topic, and ticks longer than the node's deadline are counted as misses. Timing
varies from run to run: use the deterministic executor where outputs must be reproducible.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from drivestack.bus.bus import Subscription
from drivestack.bus.executor import Executor, RunStopped, RunSummary, _Wired


class RealtimeExecutor(Executor):
    """Runs a pipeline in real time. Arguments as :class:`Executor`, plus:

    Args:
        speed: Run-clock seconds per wall second (1.0 real time).
    """

    name = "realtime"
    realtime = True

    def __init__(self, *args: Any, speed: float = 1.0, **kwargs: Any):
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.speed = speed
        self._events: list[threading.Event] = []
        kwargs["threadsafe"] = True
        super().__init__(*args, **kwargs)
        self._events = [threading.Event() for _ in self.wired]
        self._stop = threading.Event()
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._stopped: str | None = None

    def _trigger_hook(self, index: int) -> Callable[[Subscription], None]:
        def wake(_: Subscription) -> None:
            self._events[index].set()

        return wake

    def run(self, duration_s: float | None = None, start_ns: int | None = None) -> RunSummary:
        """Runs for ``duration_s`` wall-scaled seconds, or until sources are done and queues
        drain. Ctrl-C stops the run cleanly and still returns the summary."""
        start_ns = self._start(start_ns)
        self._start_ns = start_ns
        self._t0 = time.monotonic_ns()
        threads = [
            threading.Thread(target=self._loop, args=(i,), name=w.spec.name, daemon=True)
            for i, w in enumerate(self.wired)
        ]
        for t in threads:
            t.start()
        deadline = None if duration_s is None else time.monotonic() + duration_s / self.speed
        try:
            while not self._stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if deadline is None and self._quiescent(threads):
                    break
                time.sleep(0.001)
        except KeyboardInterrupt:
            self._stopped = "interrupted (SIGINT)"
        self._stop.set()
        for e in self._events:
            e.set()
        for t in threads:
            t.join(timeout=5.0)
        wall = (time.monotonic_ns() - self._t0) / 1e9
        end = self._now()
        return self._summary(start_ns, end, wall, self._stopped)

    def _now(self) -> int:
        return self._start_ns + int((time.monotonic_ns() - self._t0) * self.speed)

    def _wall_wait_s(self, t_ns: int) -> float:
        return (t_ns - self._now()) / self.speed / 1e9

    def _quiescent(self, threads: list[threading.Thread]) -> bool:
        """Sources are done, no node is ticking and every queue is empty."""
        for w, t in zip(self.wired, threads, strict=True):
            if t.is_alive() and not w.subs:
                return False  # a source is still producing
        with self._busy_lock:
            if self._busy:
                return False
        return all(not s.buf for w in self.wired for s in w.subs.values())

    def _loop(self, index: int) -> None:
        w: _Wired = self.wired[index]
        event = self._events[index]
        has_trigger = any(
            port.trigger for key, port in w.spec.ports()[0].items() if key in w.subs
        )
        next_t = w.node.first_wakeup(self._start_ns, w.period_ns)
        while not self._stop.is_set():
            if next_t is None and not has_trigger:
                return  # a finished source
            timeout = None if next_t is None else max(0.0, self._wall_wait_s(next_t))
            fired = event.wait(timeout)
            if self._stop.is_set():
                return
            timed = next_t is not None and self._now() >= next_t
            if fired:
                event.clear()
            if not (fired or timed):
                continue
            with self._busy_lock:
                self._busy += 1
            try:
                self._tick(w, self._now(), time.perf_counter_ns)
            except RunStopped as exc:
                self._stopped = str(exc)
                self._stop.set()
                return
            finally:
                with self._busy_lock:
                    self._busy -= 1
            if timed:
                assert next_t is not None
                nxt = w.node.next_wakeup(next_t, w.period_ns)
                # Behind schedule: skip the periods already missed rather than bursting.
                if nxt is not None and w.period_ns is not None and nxt < self._now():
                    behind = (self._now() - nxt) // w.period_ns + 1
                    w.misses += int(behind)
                    nxt += int(behind) * w.period_ns
                next_t = nxt
