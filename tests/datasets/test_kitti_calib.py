"""KITTI calibration: both key styles, transforms, and errors that name file and key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivestack.datasets.convention import project_to_image, transform_points
from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.calib import (
    CalibError,
    calib_from_values,
    parse_calib_text,
    read_calib,
)

P2 = "7.2e+02 0 6.1e+02 4.48e+01 0 7.2e+02 1.7e+02 2.16e-01 0 0 1 2.7e-03"
P_PLAIN = "7.2e+02 0 6.1e+02 0 0 7.2e+02 1.7e+02 0 0 0 1 0"
R_RECT = "0.9999 0.0098 -0.0074 -0.0098 0.9999 -0.0043 0.0074 0.0043 0.9999"
TR_VELO = "0.0075 -0.99997 -0.0006 -0.004 0.0148 0.0007 -0.9999 -0.076 0.9999 0.0075 0.0148 -0.27"
TR_IMU = "1 0 0 -0.81 0 1 0 0.32 0 0 1 -0.80"


def object_style() -> str:
    return (
        f"P0: {P_PLAIN}\nP1: {P_PLAIN}\nP2: {P2}\nP3: {P2}\n"
        f"R0_rect: {R_RECT}\nTr_velo_to_cam: {TR_VELO}\nTr_imu_to_velo: {TR_IMU}\n\n"
    )


def tracking_style() -> str:
    return (
        f"P0: {P_PLAIN}  \nP1: {P_PLAIN}  \nP2: {P2}  \nP3: {P2}  \n"
        f"R_rect {R_RECT}  \nTr_velo_cam {TR_VELO}  \nTr_imu_velo {TR_IMU}  \n"
    )


def test_object_and_tracking_key_styles_give_identical_calibrations(tmp_path: Path):
    (tmp_path / "object.txt").write_text(object_style())
    (tmp_path / "tracking.txt").write_text(tracking_style())
    a, b = read_calib(tmp_path / "object.txt"), read_calib(tmp_path / "tracking.txt")
    for name in ("P", "R0_rect", "Tr_velo_to_cam", "Tr_imu_to_velo"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_camera_message_projects_like_kitti_p2_r0_tr(tmp_path: Path):
    calib = calib_from_values(parse_calib_text(object_style()))
    msg = calib.camera_calibration(2, 1242, 375)
    msg.validate()
    rng = np.random.default_rng(1)
    velo = rng.uniform([5, -10, -2], [60, 10, 2], size=(40, 3))
    kitti_uv, _ = project_to_image(transform_points(calib.T_camrect_from_velo, velo), calib.P[2])
    ours_uv, _ = project_to_image(transform_points(msg.extrinsics, velo), msg.projection)
    np.testing.assert_allclose(ours_uv, kitti_uv, atol=1e-6)
    # P2 = K [I | t]: camera 2's optical centre is ~6 cm from camera 0's.
    t = calib.T_cam_from_camrect(2)[:3, 3]
    np.testing.assert_allclose(calib.intrinsics(2) @ t, calib.P[2][:, 3], atol=1e-12)
    assert 0.05 < t[0] < 0.07


def test_velo_camrect_transforms_are_inverse():
    calib = calib_from_values(parse_calib_text(object_style()))
    np.testing.assert_allclose(
        calib.T_velo_from_camrect @ calib.T_camrect_from_velo, np.eye(4), atol=1e-12
    )


@pytest.mark.parametrize("drop", ["P2:", "R0_rect:", "Tr_velo_to_cam:", "Tr_imu_to_velo:"])
def test_missing_key_error_names_file_and_both_spellings(tmp_path: Path, drop: str):
    text = "\n".join(line for line in object_style().splitlines() if not line.startswith(drop))
    path = tmp_path / "000042.txt"
    path.write_text(text)
    with pytest.raises(CalibError) as err:
        read_calib(path)
    assert str(path) in str(err.value) and drop.rstrip(":") in str(err.value)


def test_wrong_value_count_and_bad_number_name_line_and_key(tmp_path: Path):
    path = tmp_path / "c.txt"
    path.write_text(object_style().replace(f"R0_rect: {R_RECT}", "R0_rect: 1 0 0 0 1 0 0 0"))
    with pytest.raises(CalibError, match=r"c\.txt: key 'R0_rect' has 8 values, expected 9"):
        read_calib(path)
    path.write_text(object_style().replace("Tr_imu_to_velo: 1 ", "Tr_imu_to_velo: one "))
    with pytest.raises(CalibError, match=r"c\.txt:7: key 'Tr_imu_to_velo'"):
        read_calib(path)


def test_duplicate_key_in_both_styles_is_an_error():
    text = object_style() + f"R_rect {R_RECT}\n"
    with pytest.raises(CalibError, match="given twice"):
        calib_from_values(parse_calib_text(text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("P0123R_rectTvlo:. -e+\n9x")), max_size=400))
def test_calib_parser_fuzz_raises_only_data_errors(text: str):
    try:
        calib_from_values(parse_calib_text(text, "fuzz.txt"), "fuzz.txt")
    except DataError as err:
        assert str(err).startswith("fuzz.txt")
