"""Build a component's frozen-dataclass config from plain values (YAML), checking every key and type."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin


class ConfigError(ValueError):
    """A parameter that does not exist or has the wrong type.

    Attributes:
        key: Dotted path of the parameter (``sequence``, ``gates.car``).
    """

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"parameter {key!r}: {message}" if key else message)


def build_config(cls: type, values: Mapping[str, Any], prefix: str = "") -> Any:
    """An instance of the dataclass ``cls`` from ``values``, defaults for what is missing.

    Args:
        cls: A (frozen) dataclass type.
        values: Parameter name -> plain value (as YAML gives: int, float, str, bool, list, dict).
        prefix: Dotted path of ``cls`` inside an enclosing config, for messages.

    Raises:
        ConfigError: unknown key (the known ones listed), wrong type, or a value the dataclass
            rejects in ``__post_init__``.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    if not isinstance(values, Mapping):
        raise ConfigError(prefix, f"expected a mapping of parameters, got {type(values).__name__}")
    kwargs = {}
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields or not fields[key].init:
            known = ", ".join(sorted(k for k, f in fields.items() if f.init)) or "none"
            raise ConfigError(path, f"unknown parameter (known: {known})")
        kwargs[key] = coerce(hints[key], value, path)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(prefix, f"{cls.__name__} rejects these values: {exc}") from exc


def coerce(tp: Any, value: Any, path: str) -> Any:
    """``value`` checked against (and converted to) the annotation ``tp``.

    Accepts what YAML produces: ints for floats, lists for tuples, strings for paths and for
    enum members (by name).
    """
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(path, f"must be one of {list(get_args(tp))}, got {value!r}")
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(arg, value, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(path, f"expected {_name(tp)}, got {value!r}")
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(value, list | tuple):
            raise ConfigError(path, f"expected a list ({_name(tp)}), got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(path, f"expected {len(args)} items ({_name(tp)}), got {len(value)}")
        return tuple(coerce(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(path, f"expected a list, got {value!r}")
        (arg,) = get_args(tp) or (Any,)
        return [coerce(arg, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(path, f"expected a mapping, got {value!r}")
        kt, vt = get_args(tp) or (Any, Any)
        return {coerce(kt, k, path): coerce(vt, v, f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(path, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(path, f"expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, str | Path):
            raise ConfigError(path, f"expected a path string, got {value!r}")
        return Path(value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, tp):
            return value
        if isinstance(value, str) and value.upper() in tp.__members__:
            return tp[value.upper()]
        raise ConfigError(path, f"must be one of {[m.name.lower() for m in tp]}, got {value!r}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return build_config(tp, value, path)
    raise ConfigError(path, f"parameters of type {_name(tp)} cannot be set from a launch file")


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")
