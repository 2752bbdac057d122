"""nuScenes reader (through nuscenes-devkit) into the stack convention."""
