"""The report drawn aside (`descent.cli.renderer`): the child's report is the one this
process draws, and a child that fails leaves the drawing to this process."""

import io
import json
import subprocess
import sys

import pytest

from descent.cli import jobs, renderer
from descent.cli.config import RunConfig
from descent.cli.report import write_report
from descent.cli.run_folder import RunFolder


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> RunFolder:
    """A short training run, its report drawn in this process."""
    out = tmp_path_factory.mktemp("runs")
    config = RunConfig.from_mapping({"epochs": 2, "out": str(out)}, source="test")
    folder, _ = jobs.train(config, echo=lambda line: None, progress=False)
    return folder


def drawn(folder: RunFolder) -> dict[str, bytes]:
    """The report's files: report.html and every plot, by name."""
    files = {"report.html": folder.report.read_bytes()}
    return files | {path.name: path.read_bytes() for path in sorted(folder.plots.iterdir())}


def erase_report(folder: RunFolder) -> None:
    folder.report.unlink()
    for path in folder.plots.iterdir():
        path.unlink()


def test_the_command_draws_in_a_child_the_report_this_process_draws(tmp_path):
    """The real command (no argv: the renderer child draws, and the command itself never
    imports matplotlib), then the same folder's report redrawn here: byte for byte the
    same page and plots."""
    command = [sys.executable, "-X", "importtime", "-m", "descent", "train", "--epochs", "1",
               "--no-progress"]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)  # noqa: S603
    assert done.returncode == 0, done.stderr
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()}
    assert "descent.cli.renderer" in imported and "matplotlib" not in imported
    (path,) = (tmp_path / "runs").iterdir()
    folder = RunFolder.open(path)
    by_child = drawn(folder)
    erase_report(folder)
    write_report(folder)
    assert drawn(folder) == by_child
    assert set(by_child) == {"report.html", "epochs.png", "learning_rate.png",
                             "loss_per_step.png", "layer_diagnostics.png"}  # fmt: skip


def test_serve_draws_the_folder_asked_for_and_answers_ok(run_folder):
    expected = drawn(run_folder)
    erase_report(run_folder)
    replies = io.StringIO()
    request = json.dumps({"folder": str(run_folder.path), "failure": None}) + "\n"
    renderer.serve(io.StringIO(request), replies)
    assert json.loads(replies.getvalue()) == {"ok": True, "warnings": []}
    assert drawn(run_folder) == expected


def test_serve_answers_an_error_it_cannot_draw(tmp_path):
    replies = io.StringIO()
    request = json.dumps({"folder": str(tmp_path / "nothing"), "failure": None}) + "\n"
    renderer.serve(io.StringIO(request), replies)
    reply = json.loads(replies.getvalue())
    assert reply["ok"] is False and "no run folder" in reply["error"]


def test_serve_ends_quietly_when_no_report_is_asked_for():
    replies = io.StringIO()
    renderer.serve(io.StringIO(""), replies)
    assert replies.getvalue() == ""


def fake_child(code: str) -> renderer.Renderer:
    """A renderer whose child runs `code` instead of drawing."""
    # our own interpreter running our own test code
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,  # noqa: S603
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    return renderer.Renderer(process)


@pytest.fixture
def drawn_here(monkeypatch) -> list:
    """The (folder, failure) of each report drawn in this process, instead of drawing it."""
    calls = []
    monkeypatch.setattr(renderer, "write_report_here",
                        lambda folder, failure=None: calls.append((folder, failure)))  # fmt: skip
    return calls


@pytest.mark.parametrize(
    "code",
    [
        "import sys; sys.exit(3)",  # died before answering
        'print(\'{"ok": false, "error": "ValueError: no"}\')',  # failed to draw
        "print('not json')",  # answered garbage
    ],
)
def test_a_child_that_cannot_draw_leaves_the_report_to_this_process(drawn_here, code):
    child = fake_child(code)
    process = child.process
    folder = RunFolder("somewhere")
    child.write_report(folder, failure="diverged")
    assert drawn_here == [(folder, "diverged")]
    assert child.process is None and process.poll() is not None


def test_a_child_that_drew_the_report_leaves_nothing_to_draw_here(drawn_here, recwarn):
    child = fake_child('print(\'{"ok": true, "warnings": ["a glyph is missing"]}\')')
    folder = RunFolder("somewhere")
    assert child.write_report(folder) is folder
    assert drawn_here == []
    assert [str(w.message) for w in recwarn] == ["a glyph is missing"]


def test_a_renderer_that_could_not_start_draws_here(drawn_here):
    folder = RunFolder("somewhere")
    renderer.Renderer(None).write_report(folder)
    assert drawn_here == [(folder, None)]


def test_a_child_that_cannot_draw_shows_this_process_s_error(tmp_path):
    """Drawn in this process, the report raises what `write_report` raises: the command
    fails as it always has (here, a folder with no config.toml)."""
    (tmp_path / "plots").mkdir()
    child = fake_child("import sys; sys.exit(3)")
    with pytest.raises(FileNotFoundError):
        child.write_report(RunFolder(tmp_path))


def test_close_ends_a_child_never_asked_to_draw():
    child = fake_child("import time; time.sleep(60)")
    process = child.process
    child.close()
    assert process.poll() is not None and child.process is None


def test_the_writer_of_a_job_is_this_process_s_unless_aside():
    with renderer.report_writer(aside=False) as report:
        assert report is renderer.write_report_here
