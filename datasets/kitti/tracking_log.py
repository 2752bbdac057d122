"""A KITTI tracking sequence as a :class:`Log` (10 Hz, ``stamp_ns = frame * 100 ms``).

Streams, each present when its files are:

* ``"ego"`` from ``oxts/<seq>.txt`` (world: x east, y north, z up, origin at frame 0's IMU;
  ego = the Velodyne origin, see :mod:`drivestack.datasets.kitti.oxts`);
* ``"annotations"`` from ``label_02/<seq>.txt`` (:mod:`...kitti.tracking_labels`);
* ``"detections"`` / ``"detections_2d"`` from the detection folders named in the config;
* ``"lidar"`` from ``velodyne/<seq>/<frame:06d>.bin``, ``"camera_2"`` from
  ``image_02/<seq>/<frame:06d>.png``;
* ``"calib_2"``: camera 2's model; its image size comes from the sequence's first image, or
  from ``KittiTrackingConfig.image_size`` when the images are absent (there is no other
  source of it: KITTI sequences differ in size).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.calib import KittiCalib, read_calib
from drivestack.datasets.kitti.oxts import oxts_to_ego_states, read_oxts
from drivestack.datasets.kitti.tracking import (
    TrackingDetections2D,
    TrackingDetections3D,
    detections_2d_message,
    detections_3d_message,
    frame_slices,
    frame_stamp_ns,
    read_ab3dmot_sequence,
    read_rrc_sequence,
)
from drivestack.datasets.kitti.tracking_labels import TrackingAnnotations, read_tracking_annotations
from drivestack.datasets.log import Frame, Loader, Log, check_index
from drivestack.datasets.sensor_files import image_size, point_cloud, read_image, read_points_bin
from drivestack.msgs import (
    CameraCalibration,
    Detections2D,
    Detections3D,
    EgoState,
    Image,
    Message,
    PointCloud,
    TrackedObjects,
)


@dataclass(frozen=True)
class KittiTrackingConfig:
    """What to read besides the sequence's own files.

    Attributes:
        detections: AB3DMOT-format folder (``<Class>/<seq>.txt`` inside): an absolute path or a
            name under ``<root>/detections`` (``"pointrcnn_val"``); ``None``: no detections.
        detections_2d: RRC-format folder, same rules; ``None``: no 2D detections.
        camera: Which camera's images and calibration to serve (2: left colour).
        image_size: [px] (width, height) for the calibration when the images are absent.
    """

    detections: str | None = None
    detections_2d: str | None = None
    camera: int = 2
    image_size: tuple[int, int] | None = None


class KittiTrackingLog(Log):
    """One KITTI tracking sequence. Inherited, see base class for the Log API."""

    def __init__(self, root: str | Path, sequence: str, config: KittiTrackingConfig | None = None):
        """Indexes the sequence and parses its text files (errors are raised here).

        Args:
            root: Folder holding ``calib/``, ``oxts/``, ``label_02/`` (the devkit's
                ``training/``), and optionally ``velodyne/``, ``image_02/``, ``detections/``.
            sequence: Four-digit sequence name (``"0000"``).
            config: Optional streams.

        Raises:
            FileNotFoundError: the calibration, or a configured detection folder, is absent.
            DataError: a malformed file (named, with line or key).
        """
        self.root = Path(root)
        self.sequence = sequence
        self.config = config or KittiTrackingConfig()
        self.name = f"kitti_tracking/{sequence}"
        camera = self.config.camera
        self.calib: KittiCalib = read_calib(self.root / "calib" / f"{sequence}.txt")
        self._image_dir = self.root / f"image_{camera:02d}" / sequence
        self._velo_dir = self.root / "velodyne" / sequence
        oxts_path = self.root / "oxts" / f"{sequence}.txt"
        oxts = read_oxts(oxts_path) if oxts_path.is_file() else None
        self._num_frames = self._count_frames(oxts)
        stamps = np.asarray(frame_stamp_ns(np.arange(self._num_frames)))
        self._stamps = [int(s) for s in stamps]
        self._ego: list[EgoState] | None = None
        if oxts is not None:
            self._ego = oxts_to_ego_states(oxts, stamps, self.calib.T_velo_from_imu)
        self._annotations: TrackingAnnotations | None = None
        label_path = self.root / "label_02" / f"{sequence}.txt"
        if label_path.is_file():
            poses = None if self._ego is None else np.stack([e.pose for e in self._ego])
            self._annotations = read_tracking_annotations(
                label_path, self.calib, self._num_frames, poses
            )
        self._dets3d: tuple[TrackingDetections3D, list[slice]] | None = None
        if self.config.detections is not None:
            folder = self._detection_folder(self.config.detections)
            dets = read_ab3dmot_sequence(folder, sequence)
            self._dets3d = (dets, frame_slices(dets.frame, self._num_frames, str(folder)))
        self._dets2d: tuple[TrackingDetections2D, list[slice]] | None = None
        if self.config.detections_2d is not None:
            folder = self._detection_folder(self.config.detections_2d)
            dets2 = read_rrc_sequence(folder, sequence)
            self._dets2d = (dets2, frame_slices(dets2.frame, self._num_frames, str(folder)))
        self._calib_msg = self._camera_calibration()
        self._streams = self._present_streams()

    def _count_frames(self, oxts: np.ndarray | None) -> int:
        if oxts is not None:
            return len(oxts)
        for folder, pattern in ((self._image_dir, "*.png"), (self._velo_dir, "*.bin")):
            if folder.is_dir():
                return len(list(folder.glob(pattern)))
        raise DataError(
            f"{self.root}: sequence {self.sequence} has no oxts/{self.sequence}.txt, images or "
            "scans, so its frame count is unknown"
        )

    def _detection_folder(self, name: str) -> Path:
        folder = Path(name)
        if not folder.is_absolute():
            folder = self.root / "detections" / name
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: detection folder not found")
        return folder

    def _camera_calibration(self) -> CameraCalibration | None:
        first_image = self._image_dir / "000000.png"
        if first_image.is_file():
            width, height = image_size(first_image)
        elif self.config.image_size is not None:
            width, height = self.config.image_size
        else:
            return None
        return self.calib.camera_calibration(self.config.camera, width, height)

    def _present_streams(self) -> dict[str, type[Message]]:
        cam = self.config.camera
        candidates: list[tuple[str, type[Message], bool]] = [
            ("ego", EgoState, self._ego is not None),
            ("lidar", PointCloud, self._velo_dir.is_dir()),
            (f"camera_{cam}", Image, self._image_dir.is_dir()),
            (f"calib_{cam}", CameraCalibration, self._calib_msg is not None),
            ("annotations", TrackedObjects, self._annotations is not None),
            ("detections", Detections3D, self._dets3d is not None),
            ("detections_2d", Detections2D, self._dets2d is not None),
        ]
        return {name: kind for name, kind, present in candidates if present}

    def streams(self) -> Mapping[str, type[Message]]:
        """Inherited, see base class."""
        return dict(self._streams)

    def __len__(self) -> int:
        return self._num_frames

    def __getitem__(self, index: int) -> Frame:
        """Inherited, see base class. Sensor files are checked for existence here."""
        i = check_index(index, self._num_frames, self.name)
        stamp = self._stamps[i]
        cam = self.config.camera
        loaders: dict[str, Loader] = {}
        if self._ego is not None:
            loaders["ego"] = partial(_constant, self._ego[i])
        scan = self._velo_dir / f"{i:06d}.bin"
        if scan.is_file():
            loaders["lidar"] = partial(_lidar, scan, stamp)
        image = self._image_dir / f"{i:06d}.png"
        if image.is_file():
            loaders[f"camera_{cam}"] = partial(read_image, image, stamp, f"camera_{cam}")
        if self._calib_msg is not None:
            loaders[f"calib_{cam}"] = partial(_restamp, self._calib_msg, stamp)
        if self._annotations is not None:
            loaders["annotations"] = partial(self._annotations.message, i, stamp)
        if self._dets3d is not None:
            dets, rows = self._dets3d
            loaders["detections"] = partial(detections_3d_message, dets, rows[i], self.calib, stamp)
        if self._dets2d is not None:
            dets2, rows2 = self._dets2d
            loaders["detections_2d"] = partial(
                detections_2d_message, dets2, rows2[i], stamp, f"camera_{cam}"
            )
        return Frame(i, stamp, loaders, self.name)


def _constant(message: Message) -> Message:
    return message


def _restamp(message: CameraCalibration, stamp_ns: int) -> Message:
    return replace(message, stamp_ns=stamp_ns)


def _lidar(path: Path, stamp_ns: int) -> Message:
    return point_cloud(read_points_bin(path, 4), stamp_ns, "ego")
