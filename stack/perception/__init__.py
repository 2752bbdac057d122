"""Perception: camera CNN, LiDAR detectors, camera-LiDAR fusion."""
