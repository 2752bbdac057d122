"""Datasets: readers that convert KITTI and nuScenes into the stack convention, and the Log abstraction."""
