"""Launch files: which nodes run, with which parameters, wired to which topics.

A launch file (YAML, in ``launch/``)::

    description: KITTI tracking replay           # optional
    executor: deterministic                      # or realtime
    speed: 1.0                                   # realtime only: run-clock s per wall s
    duration_s: null                             # null: until the sources are done
    seed: 0
    on_error: continue                           # or stop
    validate: true                               # validate every published message
    record: {path: out/demo.mcap, topics: all}   # optional; topics: all or a list
    nodes:
      replay:                                    # the node's name
        node: log_replay                         # registered short name
        params: {sequence: "0001"}               # fields of the node's Config
        outputs: {ego: /ego/state}               # unwired outputs publish on /replay/<key>
        inputs: {}
        rate_hz: 10                              # optional override
        deadline_s: 0.1                          # optional override

Everything is checked before anything runs: unknown keys at any level, unknown node names,
unknown or mistyped parameters, unknown ports, input/output type mismatches, unconnected
required inputs. Each error names the file, the line, the node and the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drivestack.bus.deterministic import DeterministicExecutor
from drivestack.bus.executor import Executor
from drivestack.bus.graph import NodeSpec, WiringError, resolve_topics
from drivestack.bus.node import Node
from drivestack.bus.realtime import RealtimeExecutor
from drivestack.bus.registry import NODES, Registry
from drivestack.launch.params import ConfigError, build_config, coerce

TOP_KEYS = {"description", "executor", "speed", "duration_s", "seed", "on_error", "validate", "record", "nodes"}
NODE_KEYS = {"node", "params", "inputs", "outputs", "rate_hz", "deadline_s"}
RECORD_KEYS = {"path", "topics"}
EXECUTORS = ("deterministic", "realtime")


class LaunchError(ValueError):
    """A launch file that cannot run; the message starts with ``file:line:``."""


class _LineDict(dict):
    """A YAML mapping that remembers the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    out = _LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            # A mapping or list as a key (``? {a: 1}``): YAML allows it, a launch file never has it.
            raise LaunchError(f"{loader.name}:{key_node.start_mark.line + 1}: a key must be a plain scalar")
        if key in out:
            raise LaunchError(f"{loader.name}:{key_node.start_mark.line + 1}: duplicate key {key!r}")
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass
class Launch:
    """A validated launch file, ready to run."""

    path: Path
    specs: list[NodeSpec]
    executor: str = "deterministic"
    speed: float = 1.0
    duration_s: float | None = None
    seed: int = 0
    on_error: str = "continue"
    validate: bool = True
    record_path: Path | None = None
    record_topics: Sequence[str] | None = None  # None: all topics
    description: str = ""
    topics: dict[str, type] = field(default_factory=dict)

    def build_executor(self) -> Executor:
        kwargs = dict(on_error=self.on_error, validate=self.validate, seed=self.seed)
        if self.executor == "realtime":
            return RealtimeExecutor(self.specs, speed=self.speed, **kwargs)
        return DeterministicExecutor(self.specs, **kwargs)


def load_launch(
    path: str | Path,
    overrides: Sequence[str] = (),
    registry: Registry[type[Node]] = NODES,
) -> Launch:
    """Reads, validates and instantiates a launch file.

    Args:
        path: The YAML file.
        overrides: ``"node.param=value"`` (value in YAML syntax) or ``"setting=value"`` for a
            top-level setting, applied before validation.
        registry: Node types by name.

    Raises:
        LaunchError: with ``file:line:`` and the node and key at fault.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise LaunchError(f"{path}: cannot read launch file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise LaunchError(f"{path}: byte {exc.start}: not UTF-8 text ({exc.reason})") from None
    try:
        loader = _Loader(text)  # SafeLoader subclass; named so its errors name the file
        loader.name = str(path)
        try:
            doc = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise LaunchError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, _LineDict):
        raise LaunchError(f"{path}:1: a launch file is a mapping with a 'nodes' key")
    _apply_overrides(doc, overrides, path)
    return _build(doc, path, registry)


def _err(path: Path, line: int, msg: str) -> LaunchError:
    return LaunchError(f"{path}:{line}: {msg}")


def _check_keys(d: _LineDict, allowed: set[str], path: Path, where: str) -> None:
    for key in d:
        if key not in allowed:
            raise _err(path, d.key_lines[key], f"{where}unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")


def _apply_overrides(doc: _LineDict, overrides: Sequence[str], path: Path) -> None:
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise LaunchError(f"override {item!r}: expected NODE.PARAM=VALUE or SETTING=VALUE")
        value = yaml.safe_load(raw)
        node, dot, param = key.partition(".")
        if not dot:
            doc[key] = value
            doc.key_lines.setdefault(key, 0)
            continue
        nodes = doc.get("nodes") or {}
        if node not in nodes:
            raise LaunchError(f"override {item!r}: no node {node!r} in {path} (has: {sorted(nodes)})")
        params = nodes[node].setdefault("params", _LineDict())
        if not isinstance(params, _LineDict):
            params = nodes[node]["params"] = _LineDict(params)
        if not hasattr(params, "key_lines"):
            params.key_lines = {}
            params.line = nodes[node].line
        params[param] = value
        params.key_lines.setdefault(param, 0)


def _build(doc: _LineDict, path: Path, registry: Registry[type[Node]]) -> Launch:
    _check_keys(doc, TOP_KEYS, path, "")
    line = doc.key_lines.get
    launch = Launch(path=path, specs=[])
    settings = {
        "description": str, "executor": str, "speed": float, "duration_s": float | None,
        "seed": int, "on_error": str, "validate": bool,
    }
    for key, tp in settings.items():
        if key in doc:
            try:
                setattr(launch, key, coerce(tp, doc[key], key))
            except ConfigError as exc:
                raise _err(path, line(key, 0), str(exc)) from None
    if launch.executor not in EXECUTORS:
        raise _err(path, line("executor", 0), f"executor must be one of {EXECUTORS}, got {launch.executor!r}")
    if launch.on_error not in ("continue", "stop"):
        raise _err(path, line("on_error", 0), f"on_error must be continue or stop, got {launch.on_error!r}")
    if "record" in doc:
        rec = doc["record"]
        if not isinstance(rec, _LineDict) or "path" not in rec:
            raise _err(path, line("record", 0), "record needs a mapping with 'path' (and optional 'topics')")
        _check_keys(rec, RECORD_KEYS, path, "record: ")
        if not isinstance(rec["path"], str) or not rec["path"]:
            raise _err(path, rec.key_lines.get("path", line("record", 0)),
                       f"record.path must be a file name, got {rec['path']!r}")
        launch.record_path = Path(rec["path"])
        topics = rec.get("topics", "all")
        if topics != "all":
            if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
                raise _err(path, rec.key_lines["topics"], "record.topics must be 'all' or a list of topic names")
            launch.record_topics = topics
    nodes = doc.get("nodes")
    if not isinstance(nodes, _LineDict) or not nodes:
        raise _err(path, line("nodes", 1), "'nodes' must be a non-empty mapping of node name -> settings")
    for name, entry in nodes.items():
        launch.specs.append(_build_node(name, entry, nodes.key_lines[name], path, registry))
    try:
        launch.topics = resolve_topics(launch.specs)
    except WiringError as exc:
        raise _err(path, _wiring_line(nodes, exc), str(exc)) from None
    for topic in launch.record_topics or ():
        if topic not in launch.topics:
            raise _err(path, doc["record"].key_lines["topics"], f"record: no node publishes {topic!r}")
    return launch


def _build_node(name: str, entry: Any, line: int, path: Path, registry: Registry[type[Node]]) -> NodeSpec:
    where = f"node {name!r}: "
    if not isinstance(entry, _LineDict):
        raise _err(path, line, f"{where}expected a mapping with at least 'node'")
    _check_keys(entry, NODE_KEYS, path, where)
    if "node" not in entry:
        raise _err(path, line, f"{where}missing 'node' (the registered node type)")
    try:
        cls = registry.get(entry["node"])
    except KeyError as exc:
        raise _err(path, entry.key_lines["node"], where + str(exc.args[0])) from None
    params = entry.get("params") or {}
    try:
        config = build_config(cls.Config, params)
    except ConfigError as exc:
        key_line = getattr(params, "key_lines", {}).get(exc.key.split(".")[0].split("[")[0])
        raise _err(path, key_line or entry.key_lines.get("params", line), where + str(exc)) from None
    wiring = {}
    for key in ("inputs", "outputs"):
        value = entry.get(key) or {}
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise _err(path, entry.key_lines.get(key, line), f"{where}{key} must map port names to topic names")
        wiring[key] = dict(value)
    rates = {}
    for key in ("rate_hz", "deadline_s"):
        if key in entry:
            try:
                rates[key] = coerce(float, entry[key], key)
            except ConfigError as exc:
                raise _err(path, entry.key_lines[key], where + str(exc)) from None
    try:
        node = cls(config, name=name)
        cls.ports(config)  # ports may open files (a log's streams): fail here, with the line
    except (ValueError, TypeError, OSError) as exc:
        raise _err(path, line, f"{where}cannot start {entry['node']}: {exc}") from None
    return NodeSpec(name, node, wiring["inputs"], wiring["outputs"], **rates)


def _wiring_line(nodes: _LineDict, exc: WiringError) -> int:
    entry = nodes.get(exc.node)
    if not isinstance(entry, _LineDict):
        return nodes.line
    section, _, port = exc.key.partition(".")
    sub = entry.get(section)
    if isinstance(sub, _LineDict) and port in sub:
        return sub.key_lines[port]
    return entry.key_lines.get(section, nodes.key_lines.get(exc.node, nodes.line))
