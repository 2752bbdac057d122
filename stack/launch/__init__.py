"""Launch files: choose nodes by registered name, set parameters, wire topics; validated first."""

from drivestack.launch.loader import Launch, LaunchError, load_launch
from drivestack.launch.params import ConfigError, build_config, coerce

__all__ = ["ConfigError", "Launch", "LaunchError", "build_config", "coerce", "load_launch"]
