from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import pytest

from drivestack.bus import (
    Bus,
    BusTypeError,
    DeterministicExecutor,
    In,
    Node,
    NodeSpec,
    Out,
    RealtimeExecutor,
    WiringError,
    run_node,
)
from drivestack.msgs import ControlCommand, Detections3D, EgoState, MessageError, PointCloud


def cmd(t_ns: int, steer: float = 0.0) -> ControlCommand:
    return ControlCommand(stamp_ns=t_ns, frame_id="ego", steering_angle=steer, acceleration=0.0)


@dataclass(frozen=True)
class TimerConfig:
    count: int = 5  # ticks before the source stops


class Timer(Node):
    """Source: publishes a ControlCommand per tick, ``count`` times, at 10 Hz."""

    Config = TimerConfig
    outputs = {"cmd": Out(ControlCommand)}
    rate_hz = 10.0

    def reset(self, seed: int) -> None:
        self.n = 0
        self.rng = np.random.default_rng(seed)

    def next_wakeup(self, now_ns, period_ns):  # type: ignore[no-untyped-def]
        return None if self.n >= self.config.count else now_ns + period_ns

    def tick(self, now_ns, inputs):  # type: ignore[no-untyped-def]
        self.n += 1
        return {"cmd": cmd(now_ns, float(self.rng.normal()))}


class Doubler(Node):
    inputs = {"cmd": In(ControlCommand, trigger=True)}
    outputs = {"out": Out(ControlCommand)}

    def tick(self, now_ns, inputs):  # type: ignore[no-untyped-def]
        return {"out": [dataclasses.replace(m, steering_angle=2 * m.steering_angle) for m in inputs["cmd"]]}


class Slow(Node):
    """Ticks at 10 Hz and keeps what arrived: shows queue depth and overflow."""

    inputs = {"cmd": In(ControlCommand, depth=2, overflow="keep_last")}
    outputs = {"seen": Out(ControlCommand)}
    rate_hz = 10.0

    def tick(self, now_ns, inputs):  # type: ignore[no-untyped-def]
        return {"seen": inputs["cmd"]}


class Crasher(Node):
    inputs = {"cmd": In(ControlCommand, trigger=True)}
    outputs = {"out": Out(ControlCommand)}

    def tick(self, now_ns, inputs):  # type: ignore[no-untyped-def]
        (m,) = inputs["cmd"]
        if m.stamp_ns == 200_000_000:
            raise ValueError("bad frame")
        return {"out": m}


def test_publish_wrong_type_raises_naming_topic_and_types():
    bus = Bus()
    bus.declare("/control", ControlCommand)
    ego = EgoState(stamp_ns=0, frame_id="world", pose=np.eye(4), velocity=np.zeros(3), acceleration=np.zeros(3))
    with pytest.raises(BusTypeError, match=r"'/control' carries ControlCommand, got EgoState"):
        bus.publish("/control", ego, 0)
    with pytest.raises(BusTypeError, match="already carries ControlCommand"):
        bus.declare("/control", EgoState)


def test_wiring_rejects_input_type_mismatch_and_unconnected_required_input():
    class WantsEgo(Node):
        inputs = {"ego": In(EgoState, trigger=True)}

        def tick(self, now_ns, inputs):  # type: ignore[no-untyped-def]
            return None

    with pytest.raises(WiringError, match=r"node 'w', inputs.ego: expects EgoState but '/t' carries ControlCommand"):
        DeterministicExecutor([NodeSpec("t", Timer(), outputs={"cmd": "/t"}), NodeSpec("w", WantsEgo(), inputs={"ego": "/t"})])
    with pytest.raises(WiringError, match=r"inputs.ego: required input \(EgoState\) is not connected"):
        DeterministicExecutor([NodeSpec("w", WantsEgo())])


def _pipeline(seed: int) -> list[tuple[str, int, float]]:
    specs = [
        NodeSpec("timer", Timer(TimerConfig(count=20)), outputs={"cmd": "/cmd"}),
        NodeSpec("double", Doubler(), inputs={"cmd": "/cmd"}),
        NodeSpec("double2", Doubler(), inputs={"cmd": "/double/out"}, outputs={"out": "/x4"}),
    ]
    ex = DeterministicExecutor(specs, seed=seed)
    seen: list[tuple[str, int, float]] = []
    for topic in ("/cmd", "/double/out", "/x4"):
        ex.bus.subscribe(topic, notify=lambda s, t=topic: seen.append((t, s.buf[-1].stamp_ns, s.buf.pop().steering_angle)))
    summary = ex.run()
    assert not summary.failures
    return seen


def test_deterministic_executor_reruns_are_bit_identical_and_seed_matters():
    a, b = _pipeline(seed=7), _pipeline(seed=7)
    assert a == b and len(a) == 60
    assert a != _pipeline(seed=8)
    # Each doubling stage multiplies exactly by two, in order, at the same instant.
    by_stamp = {}
    for topic, stamp, value in a:
        by_stamp.setdefault(stamp, {})[topic] = value
    for values in by_stamp.values():
        assert values["/x4"] == 4 * values["/cmd"]


def test_keep_last_overflow_drops_oldest_and_counts_drops():
    # 50 Hz in, a 10 Hz reader with depth 2 ticking from the first stamp (after the feeder):
    # it sees [1], then of 5 messages per period only the newest 2.
    feed = [("cmd", cmd(t * 20_000_000, float(t))) for t in range(1, 51)]
    result = run_node(Slow(), feed)
    seen = [m.steering_angle for m in result.of("seen")]
    assert seen[:5] == [1.0, 5.0, 6.0, 10.0, 11.0]
    topic = next(t for t in result.summary.topics if t.topic == "/in/cmd")
    # Every message is seen, dropped or still queued (49 and 50 arrive after the last tick).
    assert topic.drops == 50 - len(seen) - 2 == 29


def test_drop_new_policy_keeps_the_first_messages():
    class SlowDropNew(Slow):
        inputs = {"cmd": In(ControlCommand, depth=2, overflow="drop_new")}

    feed = [("cmd", cmd(t * 20_000_000, float(t))) for t in range(1, 11)]
    seen = [m.steering_angle for m in run_node(SlowDropNew(), feed).of("seen")]
    assert seen == [1.0, 2.0, 3.0]  # ticks at 20 and 120 ms; 4, 5 and 6 found the queue full


def test_node_exception_is_isolated_reported_and_run_continues():
    feed = [("cmd", cmd(t * 100_000_000)) for t in range(5)]
    result = run_node(Crasher(name="crasher"), feed)
    assert [m.stamp_ns for m in result.of("out")] == [0, 100_000_000, 300_000_000, 400_000_000]
    (failure,) = result.summary.failures
    assert failure.node == "crasher" and failure.input_stamps == {"cmd": [200_000_000]}
    assert "ValueError: bad frame" in failure.describe() and "t=0.200 s" in failure.describe()
    assert "FAILED: node 'crasher'" in result.summary.format()


def test_on_error_stop_ends_the_run_at_the_first_failure():
    feed = [("cmd", cmd(t * 100_000_000)) for t in range(5)]
    result = run_node(Crasher(name="crasher"), feed, on_error="stop")
    assert len(result.of("out")) == 2
    assert result.summary.stopped and "bad frame" in result.summary.stopped


def test_invalid_output_message_is_a_node_failure_naming_the_field():
    class BadBoxes(Node):
        inputs = {"cmd": In(ControlCommand, trigger=True)}
        outputs = {"det": Out(Detections3D)}

        def tick(self, now_ns, inputs):  # type: ignore[no-untyped-def]
            return {"det": Detections3D(stamp_ns=now_ns, frame_id="ego", boxes=np.zeros((2, 6), np.float32),
                                        scores=np.zeros(2, np.float32), class_ids=np.zeros(2, np.int32))}

    result = run_node(BadBoxes(), [("cmd", cmd(0))])
    assert result.of("det") == []
    assert "Detections3D.boxes: expected shape (N, 7), got (2, 6)" in result.summary.failures[0].error
    with pytest.raises(MessageError):
        result.summary.failures and Detections3D(stamp_ns=0, frame_id="", boxes=np.zeros((0, 7), np.float32),
                                                 scores=np.zeros(0, np.float32), class_ids=np.zeros(0, np.int32)).validate()


def test_point_cloud_is_handed_over_without_copy():
    class Keep(Node):
        inputs = {"pc": In(PointCloud, trigger=True)}
        outputs = {"pc": Out(PointCloud)}

        def tick(self, now_ns, inputs):  # type: ignore[no-untyped-def]
            return {"pc": inputs["pc"]}

    pc = PointCloud(stamp_ns=0, frame_id="ego", points=np.zeros((120_000, 4), np.float32))
    (out,) = run_node(Keep(), [("pc", pc)]).of("pc")
    assert out is pc and out.points is pc.points


def test_realtime_executor_ticks_at_rate_and_counts_deadline_misses():
    class Sleepy(Node):
        inputs = {"cmd": In(ControlCommand, trigger=True, depth=1)}
        outputs = {"out": Out(ControlCommand)}
        deadline_s = 0.005

        def tick(self, now_ns, inputs):  # type: ignore[no-untyped-def]
            time.sleep(0.02)
            return {"out": inputs["cmd"]}

    specs = [
        NodeSpec("timer", Timer(TimerConfig(count=10)), outputs={"cmd": "/cmd"}, rate_hz=50.0),
        NodeSpec("sleepy", Sleepy(), inputs={"cmd": "/cmd"}),
    ]
    summary = RealtimeExecutor(specs).run()
    stats = {t.topic: t for t in summary.topics}
    nodes = {n.name: n for n in summary.nodes}
    assert stats["/cmd"].count == 10
    assert 25 < stats["/cmd"].rate_hz < 75  # 50 Hz on a wall clock, loosely
    # The sleepy node takes 20 ms per tick against a 5 ms deadline: every tick misses, and
    # at 50 Hz input with depth 1 some messages are dropped, never queued without bound.
    assert nodes["sleepy"].deadline_misses == nodes["sleepy"].ticks >= 1
    assert stats["/cmd"].drops + stats["/sleepy/out"].count == 10
    assert stats["/cmd"].latency_p99_ms > 0


class SpanSource(Timer):
    """A source that knows its time span (as a log replay does): 0.0 s .. 0.4 s."""

    def time_span(self) -> tuple[int, int]:
        return 0, (self.config.count - 1) * 100_000_000


def test_deterministic_run_without_duration_ends_with_the_sources_span_despite_periodic_nodes():
    # Regression: a periodic node (planner, controller, monitor) always has a next wake-up, so
    # run(None) never ended once a launch had one; it must end at the sources' last stamp.
    ex = DeterministicExecutor([
        NodeSpec("src", SpanSource(TimerConfig(count=5)), outputs={"cmd": "/cmd"}),
        NodeSpec("slow", Slow(), inputs={"cmd": "/cmd"}, rate_hz=20.0),
    ])  # fmt: skip
    summary = ex.run(None)
    ticks = {n.name: n.ticks for n in summary.nodes}
    assert ticks == {"src": 5, "slow": 9}  # 20 Hz over 0.0 .. 0.4 s inclusive
    assert summary.end_ns == 400_000_000
