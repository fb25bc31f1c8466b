"""The `descent` command where a real process matters: the installed script, `python -m
descent`, exit codes as the shell sees them, and what a fresh interpreter imports.

Everything else about the command is tested in this process, in test_cli.py.
"""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("descent")


def run(command, cwd):
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)  # noqa: S603


def test_the_installed_script_runs_and_exits_0(tmp_path):
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "descent"]
    result = run([*command, "datasets"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert {line.split()[0] for line in result.stdout.splitlines()} >= {"digits", "iris"}


def test_python_m_descent_exits_1_with_a_one_line_error(tmp_path):
    result = run([sys.executable, "-m", "descent", "train", "--data", "digit"], tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: unknown data set 'digit'")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_importing_the_command_imports_neither_matplotlib_nor_sklearn(tmp_path):
    code = (
        "import descent.cli, sys; "
        "print(sorted(m for m in ('matplotlib', 'sklearn') if m in sys.modules))"
    )
    result = run([sys.executable, "-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
