"""The deterministic executor: one thread, a simulated clock, bit-identical reruns.

Time jumps from one scheduled wake-up to the next (no sleeping), so a replay runs as fast as
the nodes compute. At each instant, self-scheduled ticks run in (time, node order); messages
arriving on trigger inputs queue their node to tick at the same instant, first come first
served. Nothing depends on wall time or thread timing, so the same inputs and seed give the
same outputs, message for message. Log replay and the simulator use this executor.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from drivestack.bus.bus import Subscription
from drivestack.bus.executor import Executor, RunStopped, RunSummary


class DeterministicExecutor(Executor):
    """Runs a pipeline on a simulated clock. See the module docstring; arguments as
    :class:`drivestack.bus.executor.Executor`."""

    name = "deterministic"

    def __init__(self, *args: Any, **kwargs: Any):
        self._ready: deque[int] = deque()
        self._pending: list[bool] = []
        super().__init__(*args, **kwargs)
        self._pending.extend([False] * len(self.wired))  # in place: the wake hooks hold it

    def _trigger_hook(self, index: int) -> Callable[[Subscription], None]:
        ready, pending = self._ready, self._pending

        def wake(_: Subscription) -> None:
            if not pending[index]:
                pending[index] = True
                ready.append(index)

        return wake

    def run(
        self,
        duration_s: float | None = None,
        start_ns: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> RunSummary:
        """Runs until ``duration_s`` of simulated time has passed, or the sources are done.

        Args:
            duration_s: [s] simulated time to run; ``None`` runs until the sources are done:
                up to the last stamp of the nodes that know their time span (log replays, the
                simulated ego), or, with no such node, until no node will wake again. Periodic
                nodes (planner, controller, monitors) would otherwise tick forever.
            start_ns: [ns] the clock's start; default: the sources' first stamp (see
                ``Node.time_span``), else 0.
            progress: Called with the clock after each instant (for progress bars).

        Returns:
            The run's summary. Node failures are in it; with ``on_error="stop"`` the run ends
            at the first one and the summary says why.
        """
        start_ns = self._start(start_ns)
        if duration_s is not None:
            end_ns: int | None = start_ns + round(duration_s * 1e9)
        else:
            span = self.time_span()
            end_ns = None if span is None else span[1]
        heap: list[tuple[int, int]] = []
        for i, w in enumerate(self.wired):
            t = w.node.first_wakeup(start_ns, w.period_ns)
            if t is not None:
                heap.append((t, i))
        heapq.heapify(heap)
        wired, ready, pending = self.wired, self._ready, self._pending
        tick = self._tick
        now = start_ns
        clock = time.perf_counter_ns
        wall0 = time.perf_counter()
        stopped = None
        try:
            while heap:
                t, i = heap[0]
                if end_ns is not None and t > end_ns:
                    break
                now = t
                w = wired[i]
                tick(w, now, clock)
                nxt = w.node.next_wakeup(now, w.period_ns)
                if nxt is None:
                    heapq.heappop(heap)
                elif nxt > now:
                    heapq.heapreplace(heap, (nxt, i))  # one sift instead of pop + push
                else:
                    raise RuntimeError(
                        f"node {w.spec.name!r} asked to wake at {nxt} ns, not after now "
                        f"({now} ns): time must advance"
                    )
                while ready:
                    j = ready.popleft()
                    pending[j] = False
                    tick(wired[j], now, clock)
                if progress is not None:
                    progress(now)
        except RunStopped as exc:
            stopped = str(exc)
        except KeyboardInterrupt:
            stopped = "interrupted (SIGINT)"
        if end_ns is not None and stopped is None:
            now = end_ns
        return self._summary(start_ns, now, time.perf_counter() - wall0, stopped)
