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


def test_importing_the_command_leaves_the_heavy_stacks_unloaded(tmp_path):
    """`descent --help` must not wait for plotting, scikit-learn, or the data and training
    stacks: the jobs import them when a command runs."""
    heavy = ("matplotlib", "sklearn", "descent.data", "descent.train", "descent.checkpoint")
    code = f"import descent.cli, sys; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    result = run([sys.executable, "-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_lazily_loaded_names_work_as_if_imported(tmp_path):
    code = (
        "import descent as torch; "
        "from descent import data; "
        "print(torch.utils.data.DataLoader is data.DataLoader, callable(torch.save), "
        "callable(torch.load), 'train' in dir(torch))"
    )
    result = run([sys.executable, "-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"] * 4
