"""KITTI calibration files (object and tracking), in both key styles, and the transforms.

Object files (``training/calib/000000.txt``) write ``R0_rect:``, ``Tr_velo_to_cam:``,
``Tr_imu_to_velo:``; the tracking devkit's files write ``R_rect``, ``Tr_velo_cam``,
``Tr_imu_velo`` without a colon. Both parse into the same :class:`KittiCalib`.

Frames: ``velo`` (= the stack's ``"ego"`` for KITTI), ``imu`` (the oxts unit), ``camera_rect``
(rectified camera 0, where KITTI labels live) and ``camera_<i>`` (rectified camera i, i = 0..3,
whose optical centre differs from camera 0 by the baseline in ``P<i>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivestack.datasets.convention import invert_transform
from drivestack.datasets.errors import DataError, read_text
from drivestack.msgs import CameraCalibration

# Canonical key -> spellings accepted in files, and the number of values.
_KEYS: dict[str, tuple[tuple[str, ...], int]] = {
    "P0": (("P0",), 12),
    "P1": (("P1",), 12),
    "P2": (("P2",), 12),
    "P3": (("P3",), 12),
    "R0_rect": (("R0_rect", "R_rect"), 9),
    "Tr_velo_to_cam": (("Tr_velo_to_cam", "Tr_velo_cam"), 12),
    "Tr_imu_to_velo": (("Tr_imu_to_velo", "Tr_imu_velo"), 12),
}
_ALIASES = {spelling: key for key, (spellings, _) in _KEYS.items() for spelling in spellings}


class CalibError(DataError):
    """A calibration file that is missing a key or holds a malformed line."""


@dataclass(frozen=True)
class KittiCalib:
    """One KITTI calibration file.

    Attributes:
        P: (4, 3, 4) float64 projection matrices P0..P3 [px], rectified camera 0 -> pixel.
        R0_rect: (3, 3) float64 rectifying rotation of camera 0.
        Tr_velo_to_cam: (3, 4) float64 Velodyne -> unrectified camera 0 [m].
        Tr_imu_to_velo: (3, 4) float64 IMU -> Velodyne [m].
        source: The file it was read from (for error messages).
    """

    P: np.ndarray
    R0_rect: np.ndarray
    Tr_velo_to_cam: np.ndarray
    Tr_imu_to_velo: np.ndarray
    source: str = ""

    @property
    def T_camrect_from_velo(self) -> np.ndarray:
        """(4, 4) Velodyne -> rectified camera 0: ``R0_rect @ Tr_velo_to_cam``."""
        return _homogeneous(self.R0_rect) @ _homogeneous(self.Tr_velo_to_cam)

    @property
    def T_velo_from_camrect(self) -> np.ndarray:
        """(4, 4) rectified camera 0 -> Velodyne (labels -> ego)."""
        return invert_transform(self.T_camrect_from_velo)

    @property
    def T_velo_from_imu(self) -> np.ndarray:
        """(4, 4) IMU -> Velodyne."""
        return _homogeneous(self.Tr_imu_to_velo)

    def intrinsics(self, camera: int) -> np.ndarray:
        """(3, 3) K of rectified camera ``camera`` [px]."""
        return self.P[camera][:, :3].copy()

    def T_cam_from_camrect(self, camera: int) -> np.ndarray:
        """(4, 4) rectified camera 0 -> rectified camera ``camera`` (a pure translation).

        ``P_i = K_i [I | t_i]``, so ``t_i = K_i^-1 P_i[:, 3]`` [m].
        """
        transform = np.eye(4)
        transform[:3, 3] = np.linalg.solve(self.intrinsics(camera), self.P[camera][:, 3])
        return transform

    def T_cam_from_velo(self, camera: int) -> np.ndarray:
        """(4, 4) Velodyne -> rectified camera ``camera``."""
        return self.T_cam_from_camrect(camera) @ self.T_camrect_from_velo

    def camera_calibration(
        self, camera: int, width: int, height: int, stamp_ns: int = 0
    ) -> CameraCalibration:
        """The stack message for camera ``camera`` with the ego (Velodyne) frame as origin.

        ``projection @ extrinsics`` equals KITTI's ``P_i @ R0_rect @ Tr_velo_to_cam``.

        Args:
            camera: 0..3 (2 is the left colour camera).
            width: [px] image width (KITTI images differ in size: read it from the image).
            height: [px] image height.
            stamp_ns: [ns] stamp of the message.
        """
        projection = np.zeros((3, 4))
        projection[:, :3] = self.intrinsics(camera)
        return CameraCalibration(
            stamp_ns=stamp_ns,
            frame_id=f"camera_{camera}",
            width=int(width),
            height=int(height),
            intrinsics=self.intrinsics(camera),
            projection=projection,
            extrinsics=self.T_cam_from_velo(camera),
        )


def _homogeneous(matrix: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[: matrix.shape[0], : matrix.shape[1]] = matrix
    return out


TEXT_KEYS = ("calib_time",)  # raw-data files date their calibration; not numbers


def parse_calib_text(text: str, source: str = "<string>") -> dict[str, np.ndarray]:
    """Parses ``key[:] v1 v2 ...`` lines into raw float64 arrays, keys as written (no colon).

    Blank lines and the text-valued keys in ``TEXT_KEYS`` are skipped. Unparseable numbers
    raise naming source, line and key.
    """
    values: dict[str, np.ndarray] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        key = fields[0].removesuffix(":")
        if not key:
            raise CalibError(f"{source}:{lineno}: empty key in {line.strip()!r}")
        if key in TEXT_KEYS:
            continue
        try:
            values[key] = np.array([float(v) for v in fields[1:]], dtype=np.float64)
        except ValueError as err:
            raise CalibError(f"{source}:{lineno}: key {key!r}: {err}") from None
        if not np.isfinite(values[key]).all():
            raise CalibError(f"{source}:{lineno}: key {key!r} holds NaN or inf")
    return values


def calib_from_values(values: dict[str, np.ndarray], source: str = "<string>") -> KittiCalib:
    """Builds :class:`KittiCalib` from parsed values, accepting both key styles.

    Raises:
        CalibError: naming the source and the key that is missing or has the wrong length.
    """
    found: dict[str, np.ndarray] = {}
    for spelling, array in values.items():
        key = _ALIASES.get(spelling)
        if key is None:
            continue  # other keys (e.g. raw-data S_00, D_00) are not part of this file type
        if key in found:
            raise CalibError(f"{source}: key {key!r} given twice (as {spelling!r})")
        want = _KEYS[key][1]
        if array.size != want:
            raise CalibError(
                f"{source}: key {spelling!r} has {array.size} values, expected {want}"
            )
        found[key] = array
    missing = [key for key in _KEYS if key not in found]
    if missing:
        spelled = ", ".join(" or ".join(_KEYS[key][0]) for key in missing)
        raise CalibError(f"{source}: missing calibration key(s): {spelled}")
    return KittiCalib(
        P=np.stack([found[f"P{i}"].reshape(3, 4) for i in range(4)]),
        R0_rect=found["R0_rect"].reshape(3, 3),
        Tr_velo_to_cam=found["Tr_velo_to_cam"].reshape(3, 4),
        Tr_imu_to_velo=found["Tr_imu_to_velo"].reshape(3, 4),
        source=source,
    )


def read_calib(path: str | Path) -> KittiCalib:
    """Reads a KITTI object or tracking calibration file (either key style).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        CalibError: naming the file and line/key at fault.
    """
    path = Path(path)
    text = read_text(path)
    return calib_from_values(parse_calib_text(text, str(path)), str(path))
