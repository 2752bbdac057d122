"""KITTI raw drives (``<date>_drive_<nnnn>_sync``) as a :class:`Log`, tolerant of absent streams.

A drive folder may hold any of ``image_00..03/{data/*.png,timestamps.txt}``,
``velodyne_points/{data/*.bin,timestamps.txt}``, ``oxts/{data/*.txt,timestamps.txt}``; the
day calibration (``calib_cam_to_cam.txt``, ``calib_velo_to_cam.txt``, ``calib_imu_to_velo.txt``)
is looked up in ``config.calib_dir``, else the drive's parent (the official layout
``<date>/<drive>``), else ``<parent>/<date>_calib[/<date>]``. Whatever is absent is simply not a
stream, and :attr:`KittiRawLog.problems` says so (``drive data info`` prints them).

Time: frame stamps are the Velodyne timestamps (the devkit's sync reference), else the oxts,
else a camera's; each message carries its own stream's stamp where that stream has
timestamps. Timestamps are local wall-clock times without a zone; they are read as UTC so the
integer nanoseconds stay exact. A drive without any timestamps gets nominal 10 Hz stamps
(``frame * 100 ms``) and a problem noting it. Note the true rate is ~9.7 Hz (0.1032 s).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path

import numpy as np

from drivestack.datasets.convention import KITTI_FRAME_PERIOD_NS, NS_PER_S
from drivestack.datasets.errors import DataError, read_text
from drivestack.datasets.kitti.calib import CalibError, KittiCalib, parse_calib_text
from drivestack.datasets.kitti.oxts import oxts_to_ego_states, read_oxts
from drivestack.datasets.log import Frame, Loader, Log, check_index, check_time_order
from drivestack.datasets.sensor_files import image_size, point_cloud, read_image, read_points_bin
from drivestack.msgs import CameraCalibration, EgoState, Image, Message, PointCloud

CALIB_FILES = ("calib_cam_to_cam.txt", "calib_velo_to_cam.txt", "calib_imu_to_velo.txt")


def parse_timestamp_ns(text: str, source: str) -> int:
    """``2011-09-26 13:02:25.964389445`` -> integer [ns] since the epoch (read as UTC)."""
    try:
        whole, _, fraction = text.strip().partition(".")
        seconds = calendar.timegm(datetime.strptime(whole, "%Y-%m-%d %H:%M:%S").timetuple())
        if fraction and not fraction.isdigit():
            raise ValueError(f"bad fraction {fraction!r}")
        return seconds * NS_PER_S + int((fraction + "000000000")[:9])
    except ValueError as err:
        raise DataError(f"{source}: timestamp {text.strip()!r}: {err}") from None


def read_timestamps(path: str | Path) -> np.ndarray:
    """(N,) int64 [ns] of a raw ``timestamps.txt`` (errors name file and line)."""
    path = Path(path)
    lines = [(n, t) for n, t in enumerate(read_text(path).splitlines(), start=1) if t.strip()]
    return np.array([parse_timestamp_ns(t, f"{path}:{n}") for n, t in lines], dtype=np.int64)


def read_raw_calib(day_dir: str | Path) -> KittiCalib:
    """Reads a raw day calibration into the object/tracking :class:`KittiCalib`.

    Returns:
        The calibration: ``P_rect_0i`` -> ``P[i]``, ``R_rect_00`` -> ``R0_rect``, velo->cam and
        imu->velo from their ``R``/``T``.

    Raises:
        FileNotFoundError: a calibration file is absent. CalibError: naming file and key.
    """
    day_dir = Path(day_dir)
    files = [day_dir / name for name in CALIB_FILES]
    cam, velo, imu = (parse_calib_text(read_text(p), str(p)) for p in files)

    def get(values: dict[str, np.ndarray], key: str, size: int, path: Path) -> np.ndarray:
        if key not in values:
            raise CalibError(f"{path}: missing calibration key {key!r}")
        if values[key].size != size:
            raise CalibError(f"{path}: key {key!r} has {values[key].size} values, expected {size}")
        return values[key]

    def rigid(values: dict[str, np.ndarray], path: Path) -> np.ndarray:
        rot = get(values, "R", 9, path).reshape(3, 3)
        return np.concatenate([rot, get(values, "T", 3, path).reshape(3, 1)], axis=1)  # (3, 4)

    return KittiCalib(
        P=np.stack([get(cam, f"P_rect_0{i}", 12, files[0]).reshape(3, 4) for i in range(4)]),
        R0_rect=get(cam, "R_rect_00", 9, files[0]).reshape(3, 3),
        Tr_velo_to_cam=rigid(velo, files[1]),
        Tr_imu_to_velo=rigid(imu, files[2]),
        source=str(day_dir),
    )


def find_day_calib(drive_dir: Path) -> Path | None:
    """The folder with the day's three calibration files, or None (see module doc)."""
    date = drive_dir.name[:10]
    parent = drive_dir.parent
    for folder in (parent, parent / date, parent / f"{date}_calib", parent / f"{date}_calib" / date):
        if all((folder / name).is_file() for name in CALIB_FILES):
            return folder
    return None


@dataclass(frozen=True)
class KittiRawConfig:
    """Attributes:
    calib_dir: Day calibration folder; ``None`` searches next to the drive.
    cameras: Cameras to serve (0, 1 grey; 2, 3 colour).
    """

    calib_dir: str | None = None
    cameras: tuple[int, ...] = (0, 1, 2, 3)


class _Stream:
    """One raw sensor folder: its data files by frame index and its stamps (or None)."""

    def __init__(self, folder: Path, pattern: str, stamp_file: str = "timestamps.txt"):
        self.folder = folder
        self.files = {int(p.stem): p for p in (folder / "data").glob(pattern) if p.stem.isdigit()}
        stamps_path = folder / stamp_file
        self.stamps = read_timestamps(stamps_path) if stamps_path.is_file() else None

    @property
    def count(self) -> int:
        last_file = max(self.files) + 1 if self.files else 0
        return max(last_file, 0 if self.stamps is None else len(self.stamps))


class KittiRawLog(Log):
    """One raw drive. Inherited, see base class for the Log API.

    Attributes:
        problems: Human-readable notes on absent streams, calibration or timestamps.
    """

    def __init__(self, drive_dir: str | Path, config: KittiRawConfig | None = None):
        self.drive_dir = Path(drive_dir)
        self.config = config or KittiRawConfig()
        self.name = f"kitti_raw/{self.drive_dir.name}"
        self.problems: list[str] = []
        self._velo = _Stream(self.drive_dir / "velodyne_points", "*.bin")
        self._oxts = _Stream(self.drive_dir / "oxts", "*.txt")
        self._cams = {
            i: _Stream(self.drive_dir / f"image_{i:02d}", "*.png") for i in self.config.cameras
        }
        self._num_frames = max([s.count for s in (self._velo, self._oxts, *self._cams.values())])
        if self._num_frames == 0:
            raise DataError(f"{self.drive_dir}: no velodyne_points, oxts or image_0x data or timestamps")
        self._stamps = self._frame_stamps()
        calib_dir = self.config.calib_dir or find_day_calib(self.drive_dir)
        self.calib: KittiCalib | None = None
        if calib_dir is None:
            self.problems.append(
                f"no day calibration ({', '.join(CALIB_FILES)}) found near {self.drive_dir}: "
                "no ego poses or camera calibration"
            )
        else:
            self.calib = read_raw_calib(calib_dir)
        self._ego = self._ego_states()
        for name, stream in (("velodyne_points", self._velo), ("oxts", self._oxts), *(
            (f"image_{i:02d}", s) for i, s in self._cams.items()
        )):
            if stream.stamps is not None and not stream.files:
                self.problems.append(f"{name}: timestamps but no data files")
            elif stream.files and len(stream.files) < self._num_frames:
                self.problems.append(f"{name}: data for {len(stream.files)} of {self._num_frames} frames")

    def _frame_stamps(self) -> list[int]:
        for name, stream in (("velodyne_points", self._velo), ("oxts", self._oxts), *(
            (f"image_{i:02d}", s) for i, s in self._cams.items()
        )):
            if stream.stamps is not None and len(stream.stamps) == self._num_frames:
                check_time_order(stream.stamps.tolist(), str(stream.folder / "timestamps.txt"))
                if name != "velodyne_points":
                    self.problems.append(f"frame stamps from {name} (no velodyne timestamps)")
                return [int(s) for s in stream.stamps]
        self.problems.append("no complete timestamps.txt: nominal 10 Hz stamps (frame * 100 ms)")
        return [i * KITTI_FRAME_PERIOD_NS for i in range(self._num_frames)]

    def _ego_states(self) -> dict[int, EgoState]:
        if not self._oxts.files or self.calib is None:
            return {}
        frames = sorted(self._oxts.files)
        packets = np.concatenate([read_oxts(self._oxts.files[i]) for i in frames])  # (K, 30)
        if len(packets) != len(frames):
            raise DataError(f"{self._oxts.folder / 'data'}: expected one packet per file")
        stamps = np.array([self._stamp(self._oxts, i) for i in frames], dtype=np.int64)
        states = oxts_to_ego_states(packets, stamps, self.calib.T_velo_from_imu)
        return dict(zip(frames, states, strict=True))

    def _stamp(self, stream: _Stream, index: int) -> int:
        if stream.stamps is not None and index < len(stream.stamps):
            return int(stream.stamps[index])
        return self._stamps[index]

    def streams(self) -> Mapping[str, type[Message]]:
        """Inherited, see base class."""
        present: dict[str, type[Message]] = {}
        if self._ego:
            present["ego"] = EgoState
        if self._velo.files:
            present["lidar"] = PointCloud
        for i, stream in self._cams.items():
            if stream.files:
                present[f"camera_{i}"] = Image
                if self.calib is not None:
                    present[f"calib_{i}"] = CameraCalibration
        return present

    def __len__(self) -> int:
        return self._num_frames

    def __getitem__(self, index: int) -> Frame:
        """Inherited, see base class."""
        i = check_index(index, self._num_frames, self.name)
        loaders: dict[str, Loader] = {}
        if i in self._ego:
            loaders["ego"] = partial(_constant, self._ego[i])
        if i in self._velo.files:
            loaders["lidar"] = partial(_lidar, self._velo.files[i], self._stamp(self._velo, i))
        for cam, stream in self._cams.items():
            if i in stream.files:
                stamp = self._stamp(stream, i)
                loaders[f"camera_{cam}"] = partial(read_image, stream.files[i], stamp, f"camera_{cam}")
                if self.calib is not None:
                    loaders[f"calib_{cam}"] = partial(self._camera_calib, cam, stream.files[i], stamp)
        return Frame(i, self._stamps[i], loaders, self.name)

    def _camera_calib(self, camera: int, image: Path, stamp_ns: int) -> Message:
        assert self.calib is not None
        width, height = image_size(image)
        return replace(self.calib.camera_calibration(camera, width, height), stamp_ns=stamp_ns)


def _constant(message: Message) -> Message:
    return message


def _lidar(path: Path, stamp_ns: int) -> Message:
    return point_cloud(read_points_bin(path, 4), stamp_ns, "ego")
