"""Registries: one explicit dict per extension point, filled by decorators; duplicates raise."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from drivestack.bus.node import Node

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to classes for one extension point.

    Args:
        kind: What is registered (``"node"``), for error messages.
        modules: Modules imported on first lookup; their decorators fill the registry.
    """

    def __init__(self, kind: str, modules: tuple[str, ...] = ()):
        self.kind = kind
        self._modules = modules
        self._entries: dict[str, T] = {}
        self._loaded = not modules

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: registers the decorated class under ``name``."""

        def add(obj: T) -> T:
            existing = self._entries.get(name)
            if existing is not None and existing is not obj:
                raise ValueError(
                    f"duplicate {self.kind} name {name!r}: {_qualname(existing)} and {_qualname(obj)}"
                )
            self._entries[name] = obj
            return obj

        return add

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._modules:
                importlib.import_module(module)

    def get(self, name: str) -> T:
        """The entry called ``name``; ``KeyError`` lists the known names."""
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(
                f"unknown {self.kind} {name!r} (known: {', '.join(sorted(self._entries))})"
            ) from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _qualname(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


# Modules that register nodes. Adding a node module means adding it here.
NODE_MODULES: tuple[str, ...] = (
    "drivestack.record.player",
    "drivestack.sim.replay",
    "drivestack.sim.closed_loop",
    "drivestack.planning.nodes",
    "drivestack.control.nodes",
    "drivestack.perception.nodes",
    "drivestack.tracking.node",
)

NODES: Registry[type[Node]] = Registry("node", NODE_MODULES)
"""Node types by the short name launch files use (``node: log_replay``)."""
