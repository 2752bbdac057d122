"""Closed-loop log replay: the simulated ego drives; the log supplies the world around it.

Three nodes turn a log replay into a closed loop (see ``launch/closed_loop.yaml``):

- ``sim_ego`` integrates the stack's :class:`~drivestack.msgs.ControlCommand` through the
  kinematic bicycle (:mod:`drivestack.sim.vehicle`) from the log's first ego state, and
  publishes the simulated :class:`~drivestack.msgs.EgoState` in place of the logged one;
- ``sim_agents`` re-expresses the log's objects (boxes in the *logged* ego's frame) in the
  world frame, so that the planner sees them where they were, wherever the simulated ego is;
- ``scenario_monitor`` measures the drive (:mod:`drivestack.sim.metrics`): collisions,
  clearance, progress and error along the route, comfort.

Agents are replayed, not reactive (as in nuPlan's open-loop agents): a collision in which an
agent hits the ego from behind is recorded but not counted as the ego's fault.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from drivestack.bus.node import In, Inputs, Node, Out, TickOutput
from drivestack.bus.registry import NODES
from drivestack.msgs import ControlCommand, EgoState, Path, ScenarioMetrics, TrackedObjects
from drivestack.sim.metrics import MonitorConfig, MonitorState, update_metrics
from drivestack.sim.replay import ReplayConfig, open_log
from drivestack.sim.vehicle import VehicleConfig, bicycle_step, clip_controls, footprint_boxes


@dataclass(frozen=True)
class SimEgoConfig:
    """The log the simulated ego starts from, and the vehicle."""

    dataset: str = "kitti_tracking"  # a reader of drivestack.sim.replay.LOG_READERS
    root: str = ""  # "" = the sample shipped with drivestack
    sequence: str = "0006"
    wheelbase: float = 2.7  # [m]
    max_steer: float = 0.6  # [rad]
    max_accel: float = 3.0  # [m/s^2]
    max_decel: float = 8.0  # [m/s^2]
    length: float = 4.5  # [m]
    width: float = 1.9  # [m]
    rear_overhang: float = 1.0  # [m]
    device: str = "cpu"  # torch device of the vehicle state

    def vehicle(self) -> VehicleConfig:
        return VehicleConfig(
            wheelbase=self.wheelbase, max_steer=self.max_steer, max_accel=self.max_accel,
            max_decel=self.max_decel, length=self.length, width=self.width,
            rear_overhang=self.rear_overhang,
        )  # fmt: skip


def _log_config(dataset: str, root: str, sequence: str) -> ReplayConfig:
    return ReplayConfig(dataset=dataset, root=root, sequence=sequence, detections="")


@NODES.register("sim_ego")
class SimEgo(Node):
    """Integrates the newest control command (held between commands) at 50 Hz."""

    Config = SimEgoConfig
    inputs = {"command": In(ControlCommand, required=False)}
    outputs = {"ego": Out(EgoState, topic="/sim/ego")}
    rate_hz = 50.0
    deadline_s = 0.02

    def __init__(self, config: SimEgoConfig | None = None, *, name: str | None = None):
        super().__init__(config, name=name)
        self._vehicle = self.config.vehicle()  # validates the limits early

    def reset(self, seed: int) -> None:
        log = open_log(_log_config(self.config.dataset, self.config.root, self.config.sequence))
        if len(log) == 0:
            raise ValueError(f"sim_ego: log {log.name!r} has no frames to start from")
        first: EgoState = log[0].load("ego")
        self._span = (log[0].stamp_ns, log[-1].stamp_ns)
        self._frame_id = first.frame_id
        self._z = float(first.pose[2, 3])
        self._state = torch.tensor(
            [[*first.xy, first.yaw, first.speed]], dtype=torch.float64, device=self.config.device
        )  # (1, 4)
        self._controls = torch.zeros((1, 2), dtype=torch.float64, device=self.config.device)
        self._last_ns: int | None = None

    def time_span(self) -> tuple[int, int] | None:
        return self._span

    def first_wakeup(self, start_ns: int, period_ns: int | None) -> int | None:
        return self._span[0]

    def next_wakeup(self, now_ns: int, period_ns: int | None) -> int | None:
        assert period_ns is not None
        nxt = now_ns + period_ns
        return nxt if nxt <= self._span[1] else None  # the log ends, so does the scenario

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        if self._last_ns is not None:
            dt = (now_ns - self._last_ns) * 1e-9
            self._state = bicycle_step(self._state, self._controls, dt, self._vehicle)
        self._last_ns = now_ns
        cmd = inputs.last("command")
        if isinstance(cmd, ControlCommand):  # held until the next command (zero-order hold)
            wanted = torch.tensor([[cmd.steering_angle, cmd.acceleration]], dtype=torch.float64)
            self._controls = clip_controls(
                wanted.to(self._state.device), self._state[:, 3], self._vehicle
            )
        return {"ego": self._ego(now_ns)}

    def _ego(self, now_ns: int) -> EgoState:
        x, y, yaw, v = self._state[0].tolist()
        steer, accel = self._controls[0].tolist()
        c, s = np.cos(yaw), np.sin(yaw)
        pose = np.eye(4)
        pose[:2, :2] = [[c, -s], [s, c]]
        pose[:3, 3] = (x, y, self._z)
        return EgoState(
            stamp_ns=now_ns, frame_id=self._frame_id, pose=pose,
            velocity=np.array([v, 0.0, 0.0]), acceleration=np.array([accel, 0.0, 0.0]),
            yaw_rate=v * float(np.tan(steer)) / self._vehicle.wheelbase, steering_angle=steer,
        )  # fmt: skip


def objects_to_world(objects: TrackedObjects, ego: EgoState) -> TrackedObjects:
    """``objects`` in the frame ``"ego"`` of ``ego`` -> the same objects in ``ego.frame_id``."""
    pose = np.asarray(ego.pose, dtype=np.float64)  # T_world_from_ego
    rot = pose[:3, :3]
    boxes = np.asarray(objects.boxes, dtype=np.float64).copy()  # (N, 7)
    boxes[:, :3] = boxes[:, :3] @ rot.T + pose[:3, 3]
    boxes[:, 6] = np.remainder(boxes[:, 6] + ego.yaw + np.pi, 2 * np.pi) - np.pi
    velocities = np.asarray(objects.velocities, dtype=np.float64) @ rot.T  # (N, 3)
    cov = np.asarray(objects.covariance, dtype=np.float64)  # (N, 6, 6), position and velocity
    r6 = np.zeros((6, 6))
    r6[:3, :3] = r6[3:, 3:] = rot
    return TrackedObjects(
        stamp_ns=objects.stamp_ns, frame_id=ego.frame_id, track_ids=objects.track_ids,
        boxes=boxes.astype(np.float32), velocities=velocities.astype(np.float32),
        covariance=(r6 @ cov @ r6.T).astype(np.float32), scores=objects.scores,
        class_ids=objects.class_ids, ages=objects.ages,
    )  # fmt: skip


@NODES.register("sim_agents")
class SimAgents(Node):
    """Publishes the log's objects in the world frame, using the logged ego pose of their stamp."""

    inputs = {"log_ego": In(EgoState), "objects": In(TrackedObjects, trigger=True, depth=4)}
    outputs = {"agents": Out(TrackedObjects, topic="/sim/agents")}

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        ego = inputs.last("log_ego")
        out = []
        for objects in inputs["objects"]:
            if objects.frame_id == getattr(ego, "frame_id", None):
                out.append(objects)  # already in the world frame
                continue
            if not isinstance(ego, EgoState) or ego.stamp_ns != objects.stamp_ns:
                have = None if not isinstance(ego, EgoState) else ego.stamp_ns
                raise ValueError(
                    f"sim_agents: objects at {objects.stamp_ns} ns need the logged ego pose of "
                    f"the same stamp (have {have}); wire log_ego to the log's ego stream"
                )
            if objects.frame_id != "ego":
                raise ValueError(
                    f"sim_agents: objects in frame {objects.frame_id!r}, expected 'ego'"
                )
            out.append(objects_to_world(objects, ego))
        return {"agents": out}


@dataclass(frozen=True)
class ScenarioMonitorConfig:
    """Ego footprint (as in ``sim_ego``) and monitor settings."""

    length: float = 4.5  # [m]
    width: float = 1.9  # [m]
    rear_overhang: float = 1.0  # [m]
    clearance_range: float = 100.0  # [m]


@NODES.register("scenario_monitor")
class ScenarioMonitor(Node):
    """Measures the simulated drive at 10 Hz against the route, the agents and the logged ego."""

    Config = ScenarioMonitorConfig
    inputs = {
        "ego": In(EgoState),
        "route": In(Path),
        "agents": In(TrackedObjects, required=False),
        "log_ego": In(EgoState, required=False),
    }
    outputs = {"metrics": Out(ScenarioMetrics, topic="/sim/metrics")}
    rate_hz = 10.0

    def reset(self, seed: int) -> None:
        c = self.config
        self._vehicle = VehicleConfig(length=c.length, width=c.width, rear_overhang=c.rear_overhang)
        self._monitor = MonitorConfig(
            clearance_range=c.clearance_range, rear_overhang=c.rear_overhang
        )
        self._state = MonitorState()

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        ego, route = inputs.last("ego"), inputs.last("route")
        if not isinstance(ego, EgoState) or not isinstance(route, Path):
            return None  # the scenario has not started yet
        if route.frame_id != ego.frame_id:
            raise ValueError(
                f"scenario_monitor: route in {route.frame_id!r}, ego in {ego.frame_id!r}"
            )
        pose = np.array([*ego.xy, ego.yaw])
        ego_box = footprint_boxes(torch.from_numpy(np.append(pose, ego.speed)[None]), self._vehicle)
        agents = inputs.last("agents")
        ids, boxes = np.zeros(0, np.int64), np.zeros((0, 5))
        if isinstance(agents, TrackedObjects):
            if agents.frame_id != ego.frame_id:
                raise ValueError(
                    f"scenario_monitor: agents in {agents.frame_id!r}, ego in {ego.frame_id!r}"
                    " (wire them through sim_agents)"
                )
            b = np.asarray(agents.boxes, dtype=np.float64)
            ids, boxes = np.asarray(agents.track_ids), b[:, [0, 1, 3, 4, 6]]
        log_ego = inputs.last("log_ego")
        self._state, metrics = update_metrics(
            self._state, stamp_ns=now_ns, frame_id=ego.frame_id, ego_box=ego_box[0].numpy(),
            ego_pose=pose, speed=ego.speed, acceleration=float(ego.acceleration[0]),
            agent_ids=ids, agent_boxes=boxes, route_xy=np.asarray(route.poses)[:, :2],
            expert_xy=np.array(log_ego.xy) if isinstance(log_ego, EgoState) else None,
            config=self._monitor,
        )  # fmt: skip
        return {"metrics": metrics}
