"""KITTI readers (object, tracking, raw) into the stack convention."""
