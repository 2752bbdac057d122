"""drivestack: perception, tracking, planning and closed-loop simulation on a typed message bus.

The import package is ``drivestack``; its subpackages live in the repository's top-level
folders (``stack/`` is ``drivestack``, ``datasets/`` is ``drivestack.datasets``, ``sim/`` is
``drivestack.sim``).
"""

__version__ = "0.1.0"
