"""Long jobs run in the background: the in-process runner behind the web's plan form.

A job is a function of one argument, the progress callback (share done, 0 to 1). The
runner starts it on its worker thread, keeps its status, progress, result or error, and
forgets finished jobs after ``keep_s``. It runs one job at a time (a plan search uses a
whole core; a second one at once would only slow both) and holds at most ``max_queued``
waiting, refusing more with a :class:`~gisapp.errors.BusyError`. A user error raised by
the job (:data:`~gisapp.errors.USER_ERRORS`) becomes the job's error message as it is;
anything else is logged with its traceback and reported in general words.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gisapp.errors import USER_ERRORS, BusyError

logger = logging.getLogger(__name__)

#: A job: called with its progress callback, returns its result.
JobFunction = Callable[[Callable[[float], None]], Any]


@dataclass
class Job:
    """One background job and what is known of it so far."""

    job_id: str
    label: str
    meta: dict[str, Any] = field(default_factory=dict)
    status: str = "queued"  # queued, running, done, failed
    progress: float = 0.0
    result: Any = None
    error: str | None = None
    submitted: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def ended(self) -> bool:
        return self.status in ("done", "failed")


class JobRunner:
    """Runs jobs one at a time on a worker thread of this process.

    Parameters
    ----------
    max_queued
        Jobs that may wait for the worker; one more is refused.
    keep_s
        How long a finished job's status and result stay available.
    """

    def __init__(self, *, max_queued: int = 4, keep_s: float = 3600.0) -> None:
        self.max_queued = max_queued
        self.keep_s = keep_s
        self._jobs: dict[str, Job] = {}
        self._queue: queue.Queue[tuple[Job, JobFunction]] = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def submit(self, label: str, function: JobFunction, **meta: Any) -> Job:
        """Queue ``function`` as a job labelled ``label``; ``meta`` is kept with it.

        Raises
        ------
        BusyError
            If ``max_queued`` jobs are already waiting.
        """
        with self._lock:
            self._forget_old()
            waiting = sum(1 for j in self._jobs.values() if j.status == "queued")
            if waiting >= self.max_queued:
                raise BusyError(
                    f"{waiting} jobs are already waiting to run; try again in a few minutes",
                    retry_after_s=60,
                )
            job = Job(uuid.uuid4().hex, label, dict(meta))
            self._jobs[job.job_id] = job
            self._queue.put((job, function))
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="gisapp-jobs", daemon=True)
                self._worker.start()
        return job

    def get(self, job_id: str) -> Job | None:
        """The job of this id, or ``None`` if unknown or forgotten."""
        with self._lock:
            return self._jobs.get(job_id)

    def wait(self, job_id: str, timeout_s: float | None = None) -> Job | None:
        """Block until the job has ended (or ``timeout_s`` passed); return it."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            job = self.get(job_id)
            if job is None or job.ended:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                return job
            time.sleep(0.05)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for job_id in [
            j.job_id
            for j in self._jobs.values()
            if j.finished is not None and now - j.finished > self.keep_s
        ]:
            del self._jobs[job_id]

    def _work(self) -> None:
        while True:
            try:
                job, function = self._queue.get(timeout=5.0)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._worker = None
                        return
                continue
            self._run(job, function)

    def _run(self, job: Job, function: JobFunction) -> None:
        job.status = "running"

        def progress(share: float) -> None:
            job.progress = min(max(float(share), job.progress), 1.0)

        try:
            job.result = function(progress)
        except USER_ERRORS as exc:
            job.error = str(exc)
            job.status = "failed"
        except Exception:
            logger.exception("job %s (%s) failed", job.job_id, job.label)
            job.error = (
                "the job stopped on an unexpected error; the server's log has the details "
                "for your administrator"
            )
            job.status = "failed"
        else:
            job.progress = 1.0
            job.status = "done"
        job.finished = time.monotonic()


__all__ = ["Job", "JobFunction", "JobRunner"]
