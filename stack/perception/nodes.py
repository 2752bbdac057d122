"""Perception nodes on the bus: camera detector, LiDAR detector, camera-LiDAR fusion.

Each node's tick calls the pure functions of its module. Bad input (NaN points, an empty
scan, an undecodable image, a calibration that projects nothing) raises with the reason; the
executor records it as a node failure (counted, with the message) and, under
``on_error: continue``, the run goes on. No node publishes an empty result for bad input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivestack.bus.node import In, Inputs, Node, Out, TickOutput
from drivestack.bus.registry import NODES
from drivestack.msgs import CameraCalibration, Detections2D, Detections3D, Image, PointCloud
from drivestack.perception.camera_cnn import CameraCnnConfig, detect_image
from drivestack.perception.fusion import CameraView, FusionConfig, fuse
from drivestack.perception.lidar_geometric import LidarGeometricConfig, detect_cloud


@dataclass(frozen=True)
class CameraDetectorConfig:
    # `drive train camera-det` checkpoint file, or a pretrained weights folder;
    # "" = the pretrained weights in $DRIVESTACK_WEIGHTS or ~/.cache/drivestack/weights
    weights: str = ""
    device: str = "cpu"  # torch device of the CNN
    score_threshold: float = 0.3  # class probability to keep a detection
    tile: int = 0  # [px] square tile side; 0 = image height


@NODES.register("camera_detector")
class CameraDetectorNode(Node):
    """NanoDet on tiles of each image -> :class:`Detections2D` in the image's camera frame."""

    Config = CameraDetectorConfig
    inputs = {"image": In(Image, trigger=True, depth=6)}  # one per camera of a rig
    outputs = {"detections": Out(Detections2D)}

    def reset(self, seed: int) -> None:
        from drivestack.perception.camera_checkpoint import CameraModelConfig, load_camera_model

        self.cnn = CameraCnnConfig(
            score_threshold=self.config.score_threshold, tile=self.config.tile or None
        )
        expect = CameraModelConfig(
            input_size=self.cnn.input_size, centre_offset=self.cnn.centre_offset
        )
        self.model = load_camera_model(self.config.weights, self.config.device, expect)

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        return {
            "detections": [
                detect_image(self.model, im, self.cnn, self.config.device) for im in inputs["image"]
            ]
        }


@NODES.register("lidar_detector")
class LidarDetectorNode(Node):
    """Geometric detector on each scan -> :class:`Detections3D` in the scan's frame."""

    Config = LidarGeometricConfig
    inputs = {"points": In(PointCloud, trigger=True)}
    outputs = {"detections": Out(Detections3D)}

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        return {"detections": [detect_cloud(c, self.config) for c in inputs["points"]]}


@dataclass(frozen=True)
class FusionNodeConfig:
    max_skew_ms: float = 60.0  # [ms] camera detections this far from the scan are used
    shrink: float = 0.1  # fraction of each 2D box trimmed per side before the frustum
    camera_only_weight: float = 0.7  # score factor of camera-only 3D boxes
    unconfirmed_weight: float = 0.3  # score factor of LiDAR boxes no camera confirmed


@NODES.register("fusion")
class FusionNode(Node):
    """Fuses each scan's LiDAR detections with the cameras' 2D detections of that instant.

    Keeps the newest detections and calibration per camera (by ``frame_id``); ticks when
    LiDAR detections arrive and uses the scan with the same stamp.
    """

    Config = FusionNodeConfig
    inputs = {
        "points": In(PointCloud, depth=2),
        "lidar": In(Detections3D, trigger=True),
        "camera_detections": In(Detections2D, required=False, depth=12),
        "calibration": In(CameraCalibration, required=False, depth=12),
    }
    outputs = {"detections": Out(Detections3D)}

    def reset(self, seed: int) -> None:
        self.scans: dict[int, PointCloud] = {}
        self.cameras: dict[str, Detections2D] = {}
        self.calibs: dict[str, CameraCalibration] = {}
        self.fusion = FusionConfig(
            shrink=self.config.shrink,
            camera_only_weight=self.config.camera_only_weight,
            unconfirmed_weight=self.config.unconfirmed_weight,
        )

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        for cloud in inputs["points"]:
            self.scans = {cloud.stamp_ns: cloud}  # only the newest scan is kept
        for det in inputs["camera_detections"]:
            self.cameras[det.frame_id] = det
        for cal in inputs["calibration"]:
            self.calibs[cal.frame_id] = cal
        out = []
        for lidar in inputs["lidar"]:
            scan = self.scans.get(lidar.stamp_ns)
            if scan is None:
                raise KeyError(
                    f"fusion: no scan with stamp {lidar.stamp_ns} ns for the LiDAR "
                    f"detections (have {sorted(self.scans)})"
                )
            skew = self.config.max_skew_ms * 1e6
            views = [
                CameraView(d, self.calibs[name])
                for name, d in sorted(self.cameras.items())
                if name in self.calibs and abs(d.stamp_ns - lidar.stamp_ns) <= skew
            ]
            fused, _, _ = fuse(
                np.asarray(scan.points),
                views,
                lidar,
                self.fusion,
                LidarGeometricConfig(),
                f"scan at {scan.stamp_ns} ns",
            )
            out.append(fused)
        return {"detections": out}
