"""Planning: costmap, A*, D* Lite, Hybrid A*, smoothing, speed profile."""
