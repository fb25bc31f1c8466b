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
REPLY_SECONDS = 300.0
"""How long the parent waits for the child's report (a few seconds on the largest runs)
before it kills the child and draws the report itself."""
CHILD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
"""The child draws; it multiplies no matrices, so it needs no BLAS threads of its own."""


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
        except (OSError, TypeError, ValueError):  # no interpreter to start (sys.executable)
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
        """Send the one request and read the one reply; {} when the child gives none in
        `REPLY_SECONDS` (it died, hung or answered garbage), and then it is killed."""
        process, self.process = self.process, None
        if process is None:
            return {}
        try:
            answer, _ = process.communicate(json.dumps(request) + "\n", timeout=REPLY_SECONDS)
            reply = json.loads(answer.partition("\n")[0] or "{}")
        except (OSError, ValueError, subprocess.TimeoutExpired):
            _end(process)
            return {}
        return reply if isinstance(reply, dict) else {}

    def close(self) -> None:
        """End a child that was never asked to draw (the run failed, or was interrupted)."""
        process, self.process = self.process, None
        if process is not None:
            _end(process)


def _end(process: subprocess.Popen) -> None:
    """Close the child's pipes, kill it (it has nothing left to do) and reap it."""
    for pipe in (process.stdin, process.stdout):
        with contextlib.suppress(OSError):
            pipe.close()
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


def serve(requests: IO[str], replies: IO[str]) -> None:
    """The child: import the drawing stack, then draw the one report asked for on
    `requests` and answer on `replies`; an empty `requests` (EOF) ends it quietly."""
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
            write_report(RunFolder.open(request["folder"]), failure=request["failure"])
            reply = {"ok": True, "warnings": [str(w.message) for w in caught]}
        except Exception as error:  # the parent draws again in-process, and shows the error
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    replies.write(json.dumps(reply) + "\n")
    replies.flush()


if __name__ == "__main__":
    try:
        serve(sys.stdin, sys.stdout)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the parent reports it
        pass
    # The report's files are written and synced; skip the interpreter's teardown (tens of
    # milliseconds of freeing matplotlib) that the parent would otherwise wait for.
    os._exit(0)
