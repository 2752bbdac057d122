"""The tracker on the bus: detections + ego state in, tracked objects and forecasts out.

Each ``Detections3D`` message (frame "ego") triggers one :func:`tracker.step` in the world
frame, using the newest ``EgoState`` (its pose is T_world_from_ego). Outputs, frame "world":
``tracks`` (:class:`TrackedObjects`, reported tracks) and ``forecasts``
(:class:`ObjectForecasts`: the motion TCN's positions and 1-sigma at 0.1 s .. 2 s for every
reported track, batched in one forward pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drivestack.bus.node import In, Inputs, Node, Out, TickOutput
from drivestack.bus.registry import NODES
from drivestack.msgs import Detections3D, EgoState, ObjectForecasts, TrackedObjects
from drivestack.tracking.forecaster import DEFAULT_CHECKPOINT, MotionForecaster
from drivestack.tracking.motion_data import to_world
from drivestack.tracking.motion_features import motion_group
from drivestack.tracking.tracker import (
    TCN_MODES,
    TrackerConfig,
    TrackerOutput,
    TrackState,
    empty_state,
    step,
)

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class TrackerNodeConfig:
    """Tracker node parameters (the per-class tracking parameters are TrackerConfig's defaults).

    Attributes:
        tcn_mode: how the tracker uses the TCN (``"off"``, ``"associate"``, ``"predict"``).
        forecasts: publish ObjectForecasts (needs the TCN checkpoint).
        checkpoint: motion TCN checkpoint; empty: the one shipped in ``tracking/weights``.
        device: torch device of the TCN.
        default_dt: [s] step assumed for the first frame.
        torch_threads: CPU threads torch may use (process-wide setting, applied when the node
            is built on the CPU; 0 leaves torch's default). One frame's tracks are a batch of
            a few dozen: more threads only add synchronisation (5x slower on 2 shared cores).
    """

    tcn_mode: str = "off"
    forecasts: bool = True
    checkpoint: str = ""
    device: str = "cpu"
    default_dt: float = 0.1  # [s]
    torch_threads: int = 1

    def __post_init__(self) -> None:
        if self.tcn_mode not in TCN_MODES:
            raise ValueError(
                f"TrackerNodeConfig.tcn_mode must be one of {TCN_MODES}, got {self.tcn_mode!r}"
            )


@NODES.register("tracker")
class TrackerNode(Node):
    """3D multi-object tracker node. Inherited, see base class."""

    Config = TrackerNodeConfig
    config: TrackerNodeConfig
    inputs = {"detections": In(Detections3D, trigger=True, depth=4), "ego": In(EgoState, depth=4)}
    outputs = {"tracks": Out(TrackedObjects), "forecasts": Out(ObjectForecasts)}

    def __init__(self, config: TrackerNodeConfig | None = None, *, name: str | None = None):
        super().__init__(config, name=name)
        cfg: TrackerNodeConfig = self.config
        self.tracker_config = TrackerConfig(tcn_mode=cfg.tcn_mode)
        need_tcn = cfg.tcn_mode != "off" or cfg.forecasts
        path = Path(cfg.checkpoint) if cfg.checkpoint else DEFAULT_CHECKPOINT
        if need_tcn and cfg.torch_threads > 0 and torch.device(cfg.device).type == "cpu":
            torch.set_num_threads(cfg.torch_threads)
        self.forecaster = MotionForecaster.from_checkpoint(path, cfg.device) if need_tcn else None
        self.reset(0)

    def reset(self, seed: int) -> None:
        self.state: TrackState = empty_state(self.tracker_config)
        self.last_stamp: int | None = None

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        tracks: list[TrackedObjects] = []
        forecasts: list[ObjectForecasts] = []
        ego = inputs.last("ego")
        for det in inputs["detections"]:
            if ego is None:
                raise RuntimeError(
                    f"{self.name}: detections at {det.stamp_ns} ns before any EgoState"
                )
            assert isinstance(det, Detections3D) and isinstance(ego, EgoState)
            if det.frame_id != "ego":
                raise ValueError(
                    f"{self.name}: detections must be in frame 'ego', got {det.frame_id!r}"
                )
            dt = (
                self.config.default_dt
                if self.last_stamp is None
                else (det.stamp_ns - self.last_stamp) / NS_PER_S
            )
            if dt <= 0:
                raise ValueError(
                    f"{self.name}: detection stamps must increase ({det.stamp_ns} after {self.last_stamp})"
                )
            self.last_stamp = det.stamp_ns
            pose = np.asarray(ego.pose, np.float64)
            boxes = to_world(np.asarray(det.boxes, np.float64), pose)
            self.state, out = step(
                self.state,
                boxes,
                np.asarray(det.scores, np.float64),
                np.asarray(det.class_ids, np.int32),
                self.tracker_config,
                dt,
                pose[:2, 3],
                self.forecaster,
            )
            tracks.append(tracked_objects(out, det.stamp_ns))
            if self.config.forecasts:
                forecasts.append(self._forecast(out, det.stamp_ns, pose[:2, 3]))
        result: dict[str, Any] = {"tracks": tracks}
        if forecasts:
            result["forecasts"] = forecasts
        return result

    def _forecast(self, out: TrackerOutput, stamp_ns: int, ego_xy: np.ndarray) -> ObjectForecasts:
        assert self.forecaster is not None
        s, rows = self.state, out.rows
        pos, std = self.forecaster(
            s.hist_xy[rows],
            s.hist_yaw[rows],
            out.boxes[:, 3:6],
            motion_group(out.class_ids),
            s.hist_valid[rows],
            np.broadcast_to(ego_xy, (len(rows), 2)),
        )
        msg = ObjectForecasts(
            stamp_ns=stamp_ns,
            frame_id="world",
            track_ids=out.ids.astype(np.int64),
            horizons=self.forecaster.horizons_s.astype(np.float64),
            positions=pos.astype(np.float32),
            position_std=std.astype(np.float32),
            sizes=out.boxes[:, 3:6].astype(np.float32),
            class_ids=out.class_ids.astype(np.int32),
        )
        msg.validate()
        return msg


def tracked_objects(out: TrackerOutput, stamp_ns: int) -> TrackedObjects:
    """A step's reported tracks as a validated :class:`TrackedObjects` in "world"."""
    msg = TrackedObjects(
        stamp_ns=stamp_ns,
        frame_id="world",
        track_ids=out.ids.astype(np.int64),
        boxes=out.boxes.astype(np.float32),
        velocities=out.velocities.astype(np.float32),
        covariance=out.covariance.astype(np.float32),
        scores=out.scores.astype(np.float32),
        class_ids=out.class_ids.astype(np.int32),
        ages=out.ages.astype(np.int32),
    )
    msg.validate()
    return msg
