"""Static type checkers see `drivestack.*` as the source files (src/drivestack, see README)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"

# `EgoState.speed` is a float property defined in another module: a checker that resolved
# the import to Any would accept returning it as str.
PROBE = '''\
from drivestack.msgs import EgoState
from drivestack.sim.vehicle import __name__ as _vehicle
from drivestack.datasets.log import __name__ as _log


def speed_label(ego: EgoState) -> str:
    return ego.speed
'''


def _probe(tmp_path: Path) -> Path:
    path = tmp_path / "probe_cross_module.py"
    path.write_text(PROBE)
    return path


def test_mypy_reports_a_type_error_across_drivestack_modules(tmp_path):
    probe = _probe(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(PYPROJECT), "--no-error-summary",
         str(probe)],
        cwd=REPO, capture_output=True, text=True,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert any(":7: error:" in line and "[return-value]" in line for line in errors), errors
    assert not any("import-not-found" in line or "import-untyped" in line for line in errors)


def test_pyright_resolves_drivestack_imports(tmp_path):
    pyright = shutil.which("pyright", path=str(Path(sys.executable).parent)) or shutil.which("pyright")
    if pyright is None:
        pytest.skip("pyright is not installed (pip install -e '.[test]' installs it)")
    probe = _probe(tmp_path)
    result = subprocess.run([pyright, "--project", str(PYPROJECT), "--outputjson", str(probe)],
                            cwd=REPO, capture_output=True, text=True)
    report = json.loads(result.stdout)
    diagnostics = report["generalDiagnostics"]
    missing = [d for d in diagnostics if d.get("rule") in ("reportMissingImports", "reportAttributeAccessIssue")]
    assert missing == []
    # Resolved to the source, the float-as-str return is seen.
    assert any(d.get("rule") == "reportReturnType" and d["range"]["start"]["line"] == 6
               for d in diagnostics), diagnostics
