"""3D multi-object tracking with a TCN motion model."""
