"""``drive bench bus``: bus throughput, latency and hand-over cost, against a bare callback list.

Workloads (all in one run, so the ratios are fair on a noisy machine):

- deterministic: one source node publishes N small messages (ControlCommand), three nodes
  subscribe with trigger inputs and count what they get; messages/s through the executor,
  validation on (the default);
- baseline: the same N messages built the same way and handed to three plain Python
  callbacks in a list; ``overhead`` is the executor's time over this;
- real-time: a 1 kHz publisher and three subscribers on threads for a few seconds;
  stamp-to-consumption latency p50/p99;
- hand-over: the time to publish a 120k-point cloud to one subscriber vs a 1k-point cloud
  (equal when nothing is copied).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from drivestack.bus.deterministic import DeterministicExecutor
from drivestack.bus.graph import NodeSpec
from drivestack.bus.node import In, Inputs, Node, Out, TickOutput
from drivestack.bus.realtime import RealtimeExecutor
from drivestack.msgs import ControlCommand, PointCloud


@dataclass(frozen=True)
class _SourceConfig:
    count: int = 1000  # messages to publish
    rate_hz: float = 1000.0  # [Hz]


class _Source(Node):
    Config = _SourceConfig
    config: _SourceConfig
    outputs = {"out": Out(ControlCommand)}

    def reset(self, seed: int) -> None:
        self.sent = 0

    def first_wakeup(self, start_ns: int, period_ns: int | None) -> int | None:
        return start_ns

    def next_wakeup(self, now_ns: int, period_ns: int | None) -> int | None:
        if self.sent >= self.config.count:
            return None
        return now_ns + round(1e9 / self.config.rate_hz)

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        self.sent += 1
        return {"out": ControlCommand(stamp_ns=now_ns, frame_id="ego", steering_angle=0.1, acceleration=0.0)}


class _Counter(Node):
    inputs = {"in": In(ControlCommand, trigger=True, depth=8)}

    def reset(self, seed: int) -> None:
        self.n = 0

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        self.n += len(inputs["in"])
        return None


@dataclass(frozen=True)
class _CloudConfig:
    points: int = 1000  # points per cloud
    count: int = 200  # clouds to publish


class _CloudSource(Node):
    Config = _CloudConfig
    config: _CloudConfig
    outputs = {"out": Out(PointCloud)}
    rate_hz = 10.0

    def reset(self, seed: int) -> None:
        self.sent = 0
        self.cloud = np.zeros((self.config.points, 4), np.float32)

    def next_wakeup(self, now_ns: int, period_ns: int | None) -> int | None:
        return None if self.sent >= self.config.count else now_ns + (period_ns or 1)

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        self.sent += 1
        return {"out": PointCloud(stamp_ns=now_ns, frame_id="ego", points=self.cloud)}


class _CloudSink(Node):
    inputs = {"in": In(PointCloud, trigger=True)}

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        return None


def _fan_out(n: int, subscribers: int = 3) -> list[NodeSpec]:
    specs = [NodeSpec("source", _Source(_SourceConfig(count=n)), outputs={"out": "/bench"})]
    specs += [NodeSpec(f"sub{i}", _Counter(), inputs={"in": "/bench"}) for i in range(subscribers)]
    return specs


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of ``fn()``; CPU time ignores waiting for a busy machine's cores."""
    w0, c0 = time.perf_counter(), time.thread_time()
    fn()
    return time.perf_counter() - w0, time.thread_time() - c0


def bench_deterministic(n: int) -> tuple[float, float]:
    """(wall, CPU) seconds to push ``n`` messages to 3 subscribers through the executor."""
    ex = DeterministicExecutor(_fan_out(n))
    dt = _timed(ex.run)
    got = [getattr(w.node, "n", None) for w in ex.wired[1:]]
    if got != [n] * 3:
        raise RuntimeError(f"subscribers received {got}, expected {n} each")
    return dt


def bench_baseline(n: int) -> tuple[float, float]:
    """(wall, CPU) seconds for the same messages through a plain list of three callbacks."""
    counts = [0, 0, 0]

    def make(i: int) -> Callable[[ControlCommand], None]:
        def cb(msg: ControlCommand) -> None:
            counts[i] += 1

        return cb

    callbacks = [make(i) for i in range(3)]

    def loop() -> None:
        for k in range(n):
            msg = ControlCommand(stamp_ns=k * 1_000_000, frame_id="ego", steering_angle=0.1, acceleration=0.0)
            for cb in callbacks:
                cb(msg)

    dt = _timed(loop)
    if counts != [n] * 3:
        raise RuntimeError(f"callbacks received {counts}, expected {n} each")
    return dt


def bench_realtime(seconds: float) -> dict[str, float]:
    n = int(seconds * 1000)
    summary = RealtimeExecutor(_fan_out(n)).run()
    (topic,) = [t for t in summary.topics if t.topic == "/bench"]
    return {
        "messages": topic.count,
        "rate_hz": round(topic.rate_hz, 1),
        "latency_p50_ms": round(topic.latency_p50_ms, 4),
        "latency_p99_ms": round(topic.latency_p99_ms, 4),
        "drops": topic.drops,
    }


def bench_handover(points: int, count: int = 500) -> float:
    """CPU seconds per published cloud of ``points`` points (one subscriber)."""
    specs = [
        NodeSpec("cloud", _CloudSource(_CloudConfig(points=points, count=count)), outputs={"out": "/pc"}),
        NodeSpec("sink", _CloudSink(), inputs={"in": "/pc"}),
    ]
    ex = DeterministicExecutor(specs)
    return _timed(ex.run)[1] / count


def run(messages: int, rt_seconds: float, repeats: int) -> dict:
    det_runs, base_runs = [], []
    for _ in range(repeats):  # interleaved, so both see the same machine load
        det_runs.append(bench_deterministic(messages))
        base_runs.append(bench_baseline(messages))
    det, det_cpu = min(r[0] for r in det_runs), min(r[1] for r in det_runs)
    base, base_cpu = min(r[0] for r in base_runs), min(r[1] for r in base_runs)
    small_runs, large_runs = [], []
    for _ in range(repeats):
        small_runs.append(bench_handover(1000))
        large_runs.append(bench_handover(120_000))
    small, large = min(small_runs), min(large_runs)
    copy = min(_time_copy(120_000) for _ in range(repeats))
    return {
        "deterministic": {
            "messages": messages,
            "subscribers": 3,
            "messages_per_s": round(messages / det),
            "messages_per_cpu_s": round(messages / det_cpu),
            "deliveries_per_s": round(3 * messages / det),
            "us_per_message": round(det / messages * 1e6, 3),
        },
        "baseline_callback_list": {
            "messages_per_s": round(messages / base),
            "messages_per_cpu_s": round(messages / base_cpu),
            "us_per_message": round(base / messages * 1e6, 3),
        },
        "overhead_vs_baseline": round(det / base, 2),
        "overhead_vs_baseline_cpu": round(det_cpu / base_cpu, 2),
        "realtime": bench_realtime(rt_seconds),
        "handover": {
            "us_per_cloud_1k_points": round(small * 1e6, 2),
            "us_per_cloud_120k_points": round(large * 1e6, 2),
            "ratio_120k_over_1k": round(large / small, 3),
            "us_to_copy_120k_points": round(copy * 1e6, 2),
        },
    }


def _time_copy(points: int) -> float:
    """For scale: what one copy of the cloud's array would cost."""
    a = np.zeros((points, 4), np.float32)
    t0 = time.perf_counter()
    for _ in range(50):
        a.copy()
    return (time.perf_counter() - t0) / 50


def register(commands: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    p = bench.add_parser(
        "bus",
        help="bus throughput, latency and zero-copy hand-over (JSON)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("--messages", type=int, default=200_000, help="messages in the throughput runs")
    p.add_argument("--rt-seconds", type=float, default=2.0, help="[s] length of the real-time run")
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    p.set_defaults(func=cmd_bench_bus)


def cmd_bench_bus(args: argparse.Namespace) -> int:
    print(f"bench bus: {args.messages} messages x {args.repeats} repeats ...", file=sys.stderr)
    print(json.dumps(run(args.messages, args.rt_seconds, args.repeats), indent=2))
    return 0
