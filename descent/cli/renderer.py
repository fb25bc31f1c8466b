"""A run's report drawn aside: a child process that imports matplotlib while the model trains.

Importing matplotlib and drawing the report took about half of the seconds `descent train`
spent outside training. `Renderer.start()` starts `python -m descent.cli.renderer` before
training, so that the import runs on another core meanwhile; `renderer.write_report(folder)`
then sends it the run folder (one JSON line on its stdin) and waits for its answer (one
JSON line on its stdout), so the report is complete when the call returns. The child draws
from the folder's files alone, as `descent report RUN` does, and exits after one report.

If the child cannot draw it (it could not start, died, or failed), the report is drawn in
this process instead, which raises as `descent.cli.report.write_report` always has: a
failure costs time, never the report. Nothing but JSON crosses between the two.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from typing import IO, Any

CHILD = [sys.executable, "-m", "descent.cli.renderer"]
CHILD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
"""The child draws; it multiplies no matrices, so it needs no BLAS threads of its own (and
with none running, it may fork its `Twin`)."""


def write_report_here(folder, failure: str | None = None):
    """`descent.cli.report.write_report` in this process (imports matplotlib here)."""
    from descent.cli.report import write_report

    return write_report(folder, failure=failure)


class Renderer:
    """The parent's end of one child renderer; `write_report` has the signature of
    `descent.cli.report.write_report`."""

    def __init__(self, process: subprocess.Popen | None) -> None:
        self.process = process

    @classmethod
    def start(cls) -> Renderer:
        """Start the child now; a child that cannot start leaves the drawing to this process."""
        env = {**os.environ, **CHILD_ENV}
        try:
            # our own interpreter running our own module: no untrusted input
            process = subprocess.Popen(  # noqa: S603
                CHILD, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True, env=env,
            )  # fmt: skip
        except OSError:
            process = None
        return cls(process)

    def write_report(self, folder, failure: str | None = None):
        """Have the child draw `folder`'s report and wait for it; draw it here if it cannot."""
        reply = self._ask({"folder": os.fspath(folder.path), "failure": failure})
        if reply.get("ok"):
            for message in reply.get("warnings", []):
                warnings.warn(message, stacklevel=2)
            return folder
        return write_report_here(folder, failure)

    def _ask(self, request: dict) -> dict:
        """Send the one request and read the one reply; {} when the child gives none."""
        process, self.process = self.process, None
        if process is None:
            return {}
        reply: Any = {}
        try:
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            reply = json.loads(process.stdout.readline() or "{}")
        except (OSError, ValueError):  # a child that died: a broken pipe, half a line
            reply = {}
        finally:
            _end(process, kill=not reply)
        return reply if isinstance(reply, dict) else {}

    def close(self) -> None:
        """End a child that was never asked to draw (the run failed, or was interrupted)."""
        process, self.process = self.process, None
        if process is not None:
            _end(process, kill=True)


def _end(process: subprocess.Popen, kill: bool) -> None:
    """Close the child's pipes and reap it: killed where it has nothing left to do, else
    waited for (it exits as soon as it has answered); one that does not exit is killed."""
    for pipe in (process.stdin, process.stdout):
        with contextlib.suppress(OSError):
            pipe.close()
    if kill:
        process.kill()
    try:
        process.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def report_writer(aside: bool) -> Iterator[Any]:
    """A `write_report` for a job: the child's (started now) when `aside`, else this
    process's. The child is ended when the block ends, however it ends."""
    if not aside:
        yield write_report_here
        return
    renderer = Renderer.start()
    try:
        yield renderer.write_report
    finally:
        renderer.close()


def serve(requests: IO[str], replies: IO[str], twin: bool = True) -> None:
    """The child: import the drawing stack, then draw the one report asked for on
    `requests` (with a `Twin` drawing half of its figures) and answer on `replies`; an
    empty `requests` (EOF) ends it quietly."""
    from descent.cli.report import write_report
    from descent.cli.run_folder import RunFolder
    from descent.lab import plots  # noqa: F401  (matplotlib: the import this process is for)

    line = requests.readline()
    if not line:
        return
    request = json.loads(line)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            folder = RunFolder.open(request["folder"])
            with Twin.fork(folder, request["failure"], really=twin) as drawing:
                write_report(folder, failure=request["failure"], draw=drawing.share())
            reply = {"ok": True, "warnings": [str(w.message) for w in caught]}
        except Exception as error:  # the parent draws again in-process, and shows the error
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    replies.write(json.dumps(reply) + "\n")
    replies.flush()


class Twin:
    """A forked copy of the child that draws every other figure of the report (the second,
    the fourth, ...) while the child draws the rest: on two cores, the report in about
    half the time. Both build the same page from the same files, so both meet the figures
    in one order; the twin says which files it drew, and any it did not draw (it failed,
    or there is no fork, as on Windows) the child draws itself."""

    def __init__(self, pid: int | None = None, drawn_by_twin: int | None = None) -> None:
        self.pid, self.pipe, self._drawn = pid, drawn_by_twin, None

    @classmethod
    @contextlib.contextmanager
    def fork(cls, folder, failure: str | None, really: bool = True) -> Iterator[Twin]:
        """A twin drawing `folder`'s report, reaped when the block ends; with no fork (or
        not `really`: a process with threads of its own must not fork), a twin that draws
        nothing."""
        twin = cls._start(folder, failure) if really and hasattr(os, "fork") else cls()
        try:
            yield twin
        finally:
            twin.drawn()  # reaps it

    @classmethod
    def _start(cls, folder, failure: str | None) -> Twin:
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return cls()
        if pid == 0:
            os.close(read_end)
            _draw_as_twin(folder, failure, write_end)  # never returns
        os.close(write_end)
        return cls(pid, read_end)

    def share(self):
        """The child's `draw`: figures at even positions here, the others the twin's."""
        return Share(0, self.later)

    def later(self, path, make):
        """The PNG at `path` when the page is written: the twin's, or drawn here."""
        from descent.cli.report import draw_here

        return lambda: path.read_bytes() if str(path) in self.drawn() else draw_here(path, make)

    def drawn(self) -> set[str]:
        """The files the twin drew, once it has ended (waited for on the first call)."""
        if self._drawn is None:
            self._drawn = set()
            if self.pid is not None:
                with os.fdopen(self.pipe) as pipe:
                    text = pipe.read()
                _, status = os.waitpid(self.pid, 0)
                if os.waitstatus_to_exitcode(status) == 0:
                    self._drawn = set(json.loads(text))
        return self._drawn


class Share:
    """A report's `draw` for one of two processes drawing it together: the figures at even
    (`ours` 0) or odd (1) positions are drawn here; the others go to `other(path, make)`."""

    def __init__(self, ours: int, other) -> None:
        self.ours, self.other, self.count, self.drawn = ours, other, 0, []

    def __call__(self, path, make):
        from descent.cli.report import draw_here

        ours, self.count = self.count % 2 == self.ours, self.count + 1
        if not ours:
            return self.other(path, make)
        png = draw_here(path, make)
        self.drawn.append(str(path))
        return png


def _draw_as_twin(folder, failure: str | None, pipe: int) -> None:
    """The twin's whole life: draw its share, write the paths it drew to `pipe`, exit
    (0 once every figure of its share is drawn); never back into the child's code."""
    code = 1
    share = Share(1, lambda path, make: b"")
    try:
        from descent.cli.report import build_report

        build_report(folder, failure, draw=share)
        code = 0
    finally:
        with contextlib.suppress(BaseException), os.fdopen(pipe, "w") as out:
            json.dump(share.drawn, out)
        os._exit(code)


if __name__ == "__main__":
    try:
        serve(sys.stdin, sys.stdout)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the parent reports it
        pass
    # The report's files are written and synced; skip the interpreter's teardown (tens of
    # milliseconds of freeing matplotlib) that the parent would otherwise wait for.
    os._exit(0)
