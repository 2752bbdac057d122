"""KITTI 3D object benchmark (``training/{label_2,calib,velodyne,image_2}``) as a :class:`Log`.

Object frames are independent snapshots, not a sequence: the log orders them as listed (split
file order, else by id) and stamps them ``position * 100 ms`` so replay tools accept them.

Streams, per frame where the files are:

* ``"lidar"``: ``velodyne/<id>.bin`` (float32 x, y, z, r) in ``"ego"`` (the Velodyne frame);
* ``"camera_2"``: ``image_2/<id>.png`` (sizes differ between frames: 1242x375, 1224x370, ...);
* ``"calib_2"``: camera 2's model from ``calib/<id>.txt``, sized from that frame's image;
* ``"annotations"``: ``label_2/<id>.txt`` as :class:`Detections3D` in ``"ego"`` (score 1):
  the object benchmark has no track ids. DontCare rows are left out; the raw rows (2D boxes,
  truncation, occlusion, DontCare) stay available via :meth:`KittiObjectLog.labels`;
* ``"detections_2d"``: 2D detections in the Frustum PointNets format (optional, config).

Every frame needs ``calib/<id>.txt`` (nothing can be put in the ego frame without it), so the
frame ids are the split's ids, or the ids with a calib file. A split id whose calib is missing
raises (``on_missing="strict"``) or is left out and counted (``"lenient"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np

from drivestack.datasets.convention import KITTI_FRAME_PERIOD_NS, kitti_camera_to_boxes
from drivestack.datasets.errors import DataError, read_text
from drivestack.datasets.kitti.calib import read_calib
from drivestack.datasets.kitti.classes import kitti_class_id
from drivestack.datasets.kitti.label_file import LabelFileError, ObjectLabels, read_object_labels
from drivestack.datasets.log import Frame, Loader, Log, check_index
from drivestack.datasets.sensor_files import image_size, point_cloud, read_image, read_points_bin
from drivestack.datasets.text_table import check_integral
from drivestack.msgs import (
    CameraCalibration,
    Detections2D,
    Detections3D,
    Image,
    Message,
    ObjectClass,
    PointCloud,
)

# Frustum PointNets' rgb_detection files: class ids 1 Pedestrian, 2 Car, 3 Cyclist.
FRUSTUM_CLASSES = {1: ObjectClass.PEDESTRIAN, 2: ObjectClass.CAR, 3: ObjectClass.CYCLIST}


def read_split(path: str | Path) -> list[str]:
    """Frame ids of a split file (``ImageSets/train.txt``: one 6-digit id per line).

    Raises:
        DataError: naming file and line for a line that is not a frame id.
    """
    path = Path(path)
    ids = []
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        token = line.strip()
        if not token:
            continue
        if not token.isdigit():
            raise DataError(f"{path}:{lineno}: {token!r} is not a frame id")
        ids.append(token.zfill(6))
    return ids


@dataclass(frozen=True)
class FrustumDetections2D:
    """Frustum PointNets 2D detections, grouped by frame id.

    Attributes:
        by_frame: frame id -> (boxes (N, 4) float64 [px], scores (N,), class_ids (N,) int32).
    """

    by_frame: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]


def read_frustum_detections(path: str | Path) -> FrustumDetections2D:
    """Reads ``image_path class_id score x1 y1 x2 y2`` lines (frame id = image file stem).

    Raises:
        DataError: naming file and line for a wrong column count, a bad number or class id.
    """
    path = Path(path)
    rows: dict[str, list[list[float]]] = {}
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 7:
            raise DataError(f"{path}:{lineno}: expected 7 fields, got {len(fields)}")
        try:
            values = [float(v) for v in fields[1:]]
        except ValueError as err:
            raise DataError(f"{path}:{lineno}: {err}") from None
        if values[0] not in FRUSTUM_CLASSES:
            raise DataError(f"{path}:{lineno}: unknown class id {fields[1]!r} (1, 2, 3)")
        if values[4] < values[2] or values[5] < values[3] or not np.isfinite(values).all():
            raise DataError(f"{path}:{lineno}: bad box {fields[3:]}")
        rows.setdefault(Path(fields[0]).stem, []).append(values)
    by_frame = {}
    for frame_id, frame_rows in rows.items():
        table = np.array(frame_rows, dtype=np.float64)  # (N, 6)
        classes = check_integral(table[:, 0], np.zeros(len(table), np.int64), str(path), "class")
        by_frame[frame_id] = (
            table[:, 2:6],
            table[:, 1],
            np.array([FRUSTUM_CLASSES[int(c)] for c in classes], dtype=np.int32),
        )
    return FrustumDetections2D(by_frame)


@dataclass(frozen=True)
class KittiObjectConfig:
    """Which frames and extra streams to read.

    Attributes:
        split: Split file (absolute, or a name under ``<root>/../ImageSets`` or
            ``<root>/splits``: ``"val"``); ``None``: every id with a calib file.
        detections_2d: Frustum PointNets 2D detection file, or ``None``.
        on_missing: ``"strict"`` raises for a split id without calib; ``"lenient"`` drops it.
        camera: Camera whose image and calibration are served (2: left colour).
    """

    split: str | None = None
    detections_2d: str | None = None
    on_missing: Literal["strict", "lenient"] = "strict"
    camera: int = 2


class KittiObjectLog(Log):
    """KITTI object frames. Inherited, see base class for the Log API.

    Attributes:
        frame_ids: The 6-digit id of each frame.
        dropped: Split ids left out for a missing calib file (lenient only).
    """

    def __init__(self, root: str | Path, config: KittiObjectConfig | None = None):
        """Indexes the frames (text files are read lazily, per frame).

        Args:
            root: The ``training/`` (or ``testing/``) folder.
            config: Frames and optional streams.

        Raises:
            FileNotFoundError / DataError: naming the split file, a frame without calib
                (strict), or the detection file at fault.
        """
        self.root = Path(root)
        self.config = config or KittiObjectConfig()
        cam = self.config.camera
        self.name = f"kitti_object/{self.root.name}" + (
            f"/{Path(self.config.split).stem}" if self.config.split else ""
        )
        self._dirs = {
            "calib": self.root / "calib",
            "label": self.root / "label_2",
            "velodyne": self.root / "velodyne",
            "image": self.root / f"image_{cam}",
        }
        with_calib = {p.stem for p in self._dirs["calib"].glob("*.txt")}
        if self.config.split is None:
            self.frame_ids = sorted(with_calib)
            self.dropped: list[str] = []
        else:
            listed = read_split(self._split_path(self.config.split))
            self.frame_ids = [i for i in listed if i in with_calib]
            self.dropped = [i for i in listed if i not in with_calib]
            if self.dropped and self.config.on_missing == "strict":
                raise DataError(
                    f"{self._dirs['calib']}: no calib file for {len(self.dropped)} of "
                    f"{len(listed)} split frames (first: {self.dropped[0]}.txt); "
                    "use on_missing='lenient' to leave them out"
                )
        self._dets2d = (
            None
            if self.config.detections_2d is None
            else read_frustum_detections(self.config.detections_2d)
        )
        self._streams = self._present_streams()

    def _split_path(self, split: str) -> Path:
        path = Path(split)
        if path.is_absolute() or path.is_file():
            return path
        for folder in (self.root.parent / "ImageSets", self.root / "splits", self.root.parent / "splits"):
            if (folder / f"{split}.txt").is_file():
                return folder / f"{split}.txt"
        raise FileNotFoundError(f"split {split!r}: no {split}.txt in ImageSets/ or splits/ near {self.root}")

    def _present_streams(self) -> dict[str, type[Message]]:
        cam = self.config.camera
        present: dict[str, type[Message]] = {}
        if any(self._dirs["velodyne"].glob("*.bin")):
            present["lidar"] = PointCloud
        if any(self._dirs["image"].glob("*.png")):
            present[f"camera_{cam}"] = Image
            present[f"calib_{cam}"] = CameraCalibration
        if any(self._dirs["label"].glob("*.txt")):
            present["annotations"] = Detections3D
        if self._dets2d is not None:
            present["detections_2d"] = Detections2D
        return present

    def streams(self) -> Mapping[str, type[Message]]:
        """Inherited, see base class."""
        return dict(self._streams)

    def __len__(self) -> int:
        return len(self.frame_ids)

    def __getitem__(self, index: int) -> Frame:
        """Inherited, see base class. Files are checked for existence here."""
        i = check_index(index, len(self.frame_ids), self.name)
        frame_id, stamp, cam = self.frame_ids[i], i * KITTI_FRAME_PERIOD_NS, self.config.camera
        calib_path = self._dirs["calib"] / f"{frame_id}.txt"
        loaders: dict[str, Loader] = {}
        scan = self._dirs["velodyne"] / f"{frame_id}.bin"
        if scan.is_file():
            loaders["lidar"] = partial(_lidar, scan, stamp)
        image = self._dirs["image"] / f"{frame_id}.png"
        if image.is_file():
            loaders[f"camera_{cam}"] = partial(read_image, image, stamp, f"camera_{cam}")
            loaders[f"calib_{cam}"] = partial(_camera_calib, calib_path, image, cam, stamp)
        label = self._dirs["label"] / f"{frame_id}.txt"
        if label.is_file():
            loaders["annotations"] = partial(_annotations, label, calib_path, stamp)
        if self._dets2d is not None:
            loaders["detections_2d"] = partial(self._detections_2d, frame_id, stamp)
        return Frame(i, stamp, loaders, self.name)

    def labels(self, index: int) -> ObjectLabels:
        """The raw label rows of frame ``index`` (KITTI camera frame, DontCare included)."""
        frame_id = self.frame_ids[check_index(index, len(self.frame_ids), self.name)]
        return _read_labels(self._dirs["label"] / f"{frame_id}.txt")

    def _detections_2d(self, frame_id: str, stamp_ns: int) -> Message:
        assert self._dets2d is not None
        empty = (np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int32))
        boxes, scores, classes = self._dets2d.by_frame.get(frame_id, empty)
        return Detections2D(
            stamp_ns=stamp_ns,
            frame_id=f"camera_{self.config.camera}",
            boxes=boxes.astype(np.float32),
            scores=scores.astype(np.float32),
            class_ids=classes,
        )


def _read_labels(path: Path) -> ObjectLabels:
    try:
        return read_object_labels(path, with_score=False)
    except LabelFileError as err:
        raise DataError(str(err)) from err


def _lidar(path: Path, stamp_ns: int) -> Message:
    return point_cloud(read_points_bin(path, 4), stamp_ns, "ego")


def _camera_calib(calib_path: Path, image: Path, camera: int, stamp_ns: int) -> Message:
    width, height = image_size(image)
    return read_calib(calib_path).camera_calibration(camera, width, height, stamp_ns)


def _annotations(label_path: Path, calib_path: Path, stamp_ns: int) -> Message:
    """Labels of one frame as :class:`Detections3D` in ``"ego"`` (DontCare left out)."""
    labels = _read_labels(label_path)
    calib = read_calib(calib_path)
    keep = labels.has_3d
    class_ids = np.array(
        [kitti_class_id(str(n), f"{label_path}:{ln}") for n, ln in zip(labels.type[keep], labels.line[keep], strict=True)],
        dtype=np.int32,
    ).reshape(-1)
    boxes = kitti_camera_to_boxes(
        labels.location[keep], labels.dimensions[keep], labels.rotation_y[keep], calib.T_velo_from_camrect
    )
    return Detections3D(
        stamp_ns=stamp_ns,
        frame_id="ego",
        boxes=boxes.astype(np.float32),
        scores=np.ones(len(boxes), dtype=np.float32),
        class_ids=class_ids,
    )
