from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from drivestack.bus import In, Node, Out, Registry
from drivestack.launch import LaunchError, load_launch
from drivestack.msgs import ControlCommand, EgoState

REG: Registry[type] = Registry("node")


@dataclass(frozen=True)
class TickerConfig:
    count: int = 3  # messages to send
    gain: float = 1.0  # steering per message [rad]
    mode: str = "a"

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"count must be >= 0, got {self.count}")


@REG.register("ticker")
class Ticker(Node):
    Config = TickerConfig
    outputs = {"cmd": Out(ControlCommand)}
    rate_hz = 10.0

    def reset(self, seed: int) -> None:
        self.n = 0

    def next_wakeup(self, now_ns, period_ns):  # type: ignore[no-untyped-def]
        return None if self.n >= self.config.count else now_ns + period_ns

    def tick(self, now_ns, inputs):  # type: ignore[no-untyped-def]
        self.n += 1
        return {"cmd": ControlCommand(stamp_ns=now_ns, frame_id="ego", steering_angle=self.config.gain * self.n, acceleration=0.0)}


@REG.register("follower")
class Follower(Node):
    inputs = {"cmd": In(ControlCommand, trigger=True)}
    outputs = {"cmd": Out(ControlCommand)}

    def tick(self, now_ns, inputs):  # type: ignore[no-untyped-def]
        return {"cmd": inputs["cmd"]}


@REG.register("ego_user")
class EgoUser(Node):
    inputs = {"ego": In(EgoState, trigger=True)}

    def tick(self, now_ns, inputs):  # type: ignore[no-untyped-def]
        return None


GOOD = """\
description: two nodes
seed: 3
nodes:
  src:
    node: ticker
    params: {count: 4, gain: 0.5}
    outputs: {cmd: /cmd}
  follow:
    node: follower
    inputs: {cmd: /cmd}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "test.yaml"
    p.write_text(text)
    return p


def test_valid_launch_builds_and_runs(tmp_path):
    launch = load_launch(write(tmp_path, GOOD), registry=REG)
    assert [s.name for s in launch.specs] == ["src", "follow"] and launch.seed == 3
    assert launch.specs[0].node.config == TickerConfig(count=4, gain=0.5)
    summary = launch.build_executor().run()
    counts = {t.topic: t.count for t in summary.topics}
    assert counts == {"/cmd": 4, "/follow/cmd": 4}


@pytest.mark.parametrize(
    "edit, line, message",
    [
        (("node: follower", "node: folower"), 9, "node 'follow': unknown node 'folower' (known: ego_user, follower, ticker)"),
        (("{count: 4, gain: 0.5}", "{count: 4, gian: 0.5}"), 6, "node 'src': parameter 'gian': unknown parameter (known: count, gain, mode)"),
        (("{count: 4, gain: 0.5}", "{count: four, gain: 0.5}"), 6, "node 'src': parameter 'count': expected an integer, got 'four'"),
        (("{count: 4, gain: 0.5}", "{count: -1}"), 6, "count must be >= 0"),
        (("    inputs: {cmd: /cmd}", "    inputs: {cmd: /cmd}\n    colour: red"), 11, "node 'follow': unknown key 'colour'"),
        (("    inputs: {cmd: /cmd}", "    inputs: {cmd: /nothing}"), 10, "node 'follow', inputs.cmd: nobody publishes topic '/nothing'"),
        (("    inputs: {cmd: /cmd}", "    inputs: {}"), 10, "node 'follow', inputs.cmd: required input (ControlCommand) is not connected"),
        (("seed: 3", "sed: 3"), 2, "unknown key 'sed'"),
    ],
)
def test_launch_errors_name_file_line_node_and_key(tmp_path, edit, line, message):
    path = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(LaunchError) as err:
        load_launch(path, registry=REG)
    text = str(err.value)
    assert text.startswith(f"{path}:{line}: "), text
    assert message in text


def test_launch_rejects_output_input_type_mismatch_at_the_input_line(tmp_path):
    text = GOOD + "  user:\n    node: ego_user\n    inputs:\n      ego: /cmd\n"
    path = write(tmp_path, text)
    with pytest.raises(LaunchError, match=rf"{path}:14: node 'user', inputs.ego: expects EgoState but '/cmd' carries ControlCommand \(from node 'src'\)"):
        load_launch(path, registry=REG)


def test_overrides_apply_before_validation(tmp_path):
    path = write(tmp_path, GOOD)
    launch = load_launch(path, ["src.gain=2", "seed=9"], registry=REG)
    assert launch.specs[0].node.config.gain == 2.0 and launch.seed == 9
    with pytest.raises(LaunchError, match="parameter 'gain': expected a number, got 'x'"):
        load_launch(path, ["src.gain=x"], registry=REG)


def test_bad_yaml_and_missing_file_are_named(tmp_path):
    with pytest.raises(LaunchError, match="cannot read launch file"):
        load_launch(tmp_path / "absent.yaml", registry=REG)
    with pytest.raises(LaunchError, match="not valid YAML"):
        load_launch(write(tmp_path, "nodes: {a: [}"), registry=REG)
    with pytest.raises(LaunchError, match=":2: duplicate key 'seed'"):
        load_launch(write(tmp_path, "seed: 1\nseed: 2\n"), registry=REG)


def test_shipped_launch_files_validate():
    launch_dir = Path(__file__).resolve().parents[2] / "launch"
    files = sorted(launch_dir.glob("*.yaml"))
    assert files, "launch/ holds no launch files"
    for f in files:
        load_launch(f)
