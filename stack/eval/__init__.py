"""KITTI evaluation (object AP, tracking CLEAR MOT / sAMOTA / HOTA)."""
