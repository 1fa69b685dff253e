"""Long jobs run in the background: in this process by default, on RQ workers over Redis.

A job is data, not a closure: a kind of :data:`~gisapp.services.job_kinds.JOB_KINDS`
(``plan``, ``coverage``, ``placement``, ``grid_design``, ``export``), a workspace location
and JSON-able arguments, so any process on any machine can run it. Two queues run jobs
behind one interface (:class:`JobQueue`): ``submit(kind, workspace, args, label=...)``
returns the :class:`Job`, ``status(job_id)`` what is known of it (status, progress, result
or error). :func:`job_queue` picks one from the ``job_queue`` setting:

- :class:`JobRunner` (empty setting, the default): one worker thread of this process, one
  job at a time (a plan search uses a whole core); jobs end with the process.
- :class:`RQJobQueue` (``job_queue = "redis://host:6379/0"``): jobs wait in Redis for
  ``gisapp worker`` processes on any number of machines; their state, progress and result
  outlive a restart of the web server. A small process beside a running job refreshes its
  heartbeat key in Redis (even while the job is deep in native code); a job whose worker
  died (killed, machine lost) is reported failed once its heartbeat is older than
  ``heartbeat_s`` -- never lost silently. Every save a job makes is one transaction at its
  end, so a job killed before it leaves the workspace as it was.

A user error raised by a job (:data:`~gisapp.errors.USER_ERRORS`) becomes the job's error
message as it is; anything else is logged with its traceback and reported in general words.
Both queues refuse more than ``max_queued`` waiting jobs with a :class:`BusyError`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit

from gisapp.errors import USER_ERRORS, BusyError, SettingsError
from gisapp.services.job_kinds import Progress, check_job_args, job_kind
from layers.i18n import _, _l, current_language, format_number, use_language

if TYPE_CHECKING:
    from redis import Redis
    from rq.job import Job as RQJob

    from gisapp.settings import Settings

logger = logging.getLogger(__name__)

#: Name of the Redis queue the web submits to and ``gisapp worker`` takes jobs from.
QUEUE_NAME = "gisapp"
#: Said of a job that stopped on an unexpected error (the log has the traceback).
UNEXPECTED_ERROR = _l(
    "the job stopped on an unexpected error; the server's log has the details for your "
    "administrator"
)
#: Said of a job whose worker stopped in the middle of it.
WORKER_LOST_ERROR = _l(
    "the worker running this job stopped before it finished (it was stopped, killed or "
    "its machine restarted); nothing of it was saved: start it again"
)


def _timeout_error(minutes: float) -> str:
    """Said of a job stopped for running longer than ``minutes``."""
    return _(
        "the job ran longer than %(minutes)s minutes and was stopped",
        minutes=format_number(minutes),
    )


@dataclass
class Job:
    """One background job and what is known of it so far."""

    job_id: str
    label: str
    kind: str = ""
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


class JobQueue(Protocol):
    """Where jobs are submitted and their status read."""

    def submit(
        self,
        kind: str,
        workspace: str,
        args: Mapping[str, Any],
        *,
        label: str,
        meta: Mapping[str, Any] | None = None,
    ) -> Job:
        """Queue a job of ``kind`` on the workspace at ``workspace``; return it."""
        ...

    def status(self, job_id: str) -> Job | None:
        """The job of this id, or ``None`` if unknown or forgotten."""
        ...

    def wait(self, job_id: str, timeout_s: float | None = None) -> Job | None:
        """Block until the job has ended (or ``timeout_s`` passed); return it."""
        ...


def run_job(kind: str, workspace: str, args: Mapping[str, Any], progress: Progress) -> Any:
    """Open the workspace at ``workspace`` and run a job of ``kind`` on it; its summary.

    Raises
    ------
    GisappError
        If ``kind`` is unknown or the workspace cannot be opened; any user error of the job.
    """
    from gisapp.store import open_workspace

    function = job_kind(kind)
    return function(open_workspace(workspace), args, progress)


def job_queue(settings: Settings) -> JobQueue:
    """The queue the ``job_queue`` setting names: Redis, or this process when empty.

    Raises
    ------
    SettingsError
        If the setting is not a ``redis://``, ``rediss://`` or ``unix://`` address.
    """
    url = (settings.job_queue or "").strip()
    if not url:
        return JobRunner()
    return RQJobQueue(url)


def _wait(jobs: JobQueue, job_id: str, timeout_s: float | None, poll_s: float) -> Job | None:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        job = jobs.status(job_id)
        if job is None or job.ended:
            return job
        if deadline is not None and time.monotonic() >= deadline:
            return job
        time.sleep(poll_s)


def _busy(waiting: int) -> BusyError:
    return BusyError(
        _(
            "%(count)s jobs are already waiting to run; try again in a few minutes",
            count=waiting,
        ),
        retry_after_s=60,
    )


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
        self._queue: queue.Queue[tuple[Job, str, dict[str, Any], str]] = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def submit(
        self,
        kind: str,
        workspace: str,
        args: Mapping[str, Any],
        *,
        label: str,
        meta: Mapping[str, Any] | None = None,
    ) -> Job:
        """Queue a job of ``kind`` labelled ``label``; ``meta`` is kept with it.

        Raises
        ------
        GisappError
            If ``kind`` is unknown or ``args`` are not plain JSON data.
        BusyError
            If ``max_queued`` jobs are already waiting.
        """
        plain = check_job_args(kind, args)
        with self._lock:
            self._forget_old()
            waiting = sum(1 for j in self._jobs.values() if j.status == "queued")
            if waiting >= self.max_queued:
                raise _busy(waiting)
            job = Job(uuid.uuid4().hex, label, kind, dict(meta or {}))
            self._jobs[job.job_id] = job
            self._queue.put((job, workspace, plain, current_language()))
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="gisapp-jobs", daemon=True)
                self._worker.start()
        return job

    def status(self, job_id: str) -> Job | None:
        """The job of this id, or ``None`` if unknown or forgotten."""
        with self._lock:
            return self._jobs.get(job_id)

    def wait(self, job_id: str, timeout_s: float | None = None) -> Job | None:
        """Block until the job has ended (or ``timeout_s`` passed); return it."""
        return _wait(self, job_id, timeout_s, poll_s=0.05)

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
                job, workspace, args, language = self._queue.get(timeout=5.0)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._worker = None
                        return
                continue
            self._run(job, workspace, args, language)

    def _run(self, job: Job, workspace: str, args: dict[str, Any], language: str) -> None:
        # the job speaks the language of whoever submitted it: messages and documents
        with use_language(language):
            self._run_job(job, workspace, args)

    def _run_job(self, job: Job, workspace: str, args: dict[str, Any]) -> None:
        job.status = "running"

        def progress(share: float) -> None:
            job.progress = min(max(float(share), job.progress), 1.0)

        try:
            job.result = run_job(job.kind, workspace, args, progress)
        except USER_ERRORS as exc:
            job.error = str(exc)
            job.status = "failed"
        except Exception:
            logger.exception("job %s (%s) failed", job.job_id, job.label)
            job.error = str(UNEXPECTED_ERROR)
            job.status = "failed"
        else:
            job.progress = 1.0
            job.status = "done"
        job.finished = time.monotonic()


def _alive_key(job_id: str) -> str:
    return f"gisapp:job:{job_id}:alive"


def _began_key(job_id: str) -> str:
    return f"gisapp:job:{job_id}:began"


def _shown_url(url: str) -> str:
    """A Redis address without its password, to name in messages."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    return f"{parts.scheme}://{parts.hostname or 'localhost'}:{parts.port or 6379}"


def redis_connection(url: str) -> Redis:
    """A Redis client for ``url``, checked to answer.

    Raises
    ------
    SettingsError
        If ``url`` is not a Redis address.
    BusyError
        If no Redis answers there.
    """
    from redis import Redis
    from redis.exceptions import RedisError

    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise SettingsError(
            _(
                "the job queue should be a Redis address like redis://localhost:6379/0 "
                "(setting job_queue), got %(url)s; leave the setting empty to run jobs in the "
                "web server's process",
                url=repr(url),
            )
        )
    connection = Redis.from_url(url)
    try:
        connection.ping()
    except RedisError:
        raise BusyError(
            _(
                "the job queue at %(url)s does not answer; start Redis there or "
                "ask your administrator, then try again",
                url=_shown_url(url),
            ),
            retry_after_s=60,
        ) from None
    return connection


class RQJobQueue:
    """Jobs queued in Redis and run by ``gisapp worker`` processes (RQ workers).

    Parameters
    ----------
    url
        The Redis address, e.g. ``redis://localhost:6379/0``.
    max_queued
        Jobs that may wait for a worker; one more is refused.
    keep_s
        How long a finished or failed job's status and result stay in Redis.
    heartbeat_s
        A running job refreshes its heartbeat every third of this; a job whose heartbeat
        is older is reported failed (its worker was lost).
    start_grace_s
        A job RQ records as started but whose first heartbeat has not come (a worker still
        loading the program) is reported failed after this.
    job_timeout_s
        A job running longer is stopped by its worker and reported failed.
    """

    def __init__(
        self,
        url: str,
        *,
        max_queued: int = 50,
        keep_s: float = 86_400.0,
        heartbeat_s: float = 30.0,
        start_grace_s: float = 300.0,
        job_timeout_s: float = 4 * 3600.0,
    ) -> None:
        from rq import Queue
        from rq.serializers import JSONSerializer

        self.url = url
        self.max_queued = max_queued
        self.keep_s = keep_s
        self.heartbeat_s = heartbeat_s
        self.start_grace_s = start_grace_s
        self.job_timeout_s = job_timeout_s
        self.connection = redis_connection(url)
        self.queue = Queue(QUEUE_NAME, connection=self.connection, serializer=JSONSerializer)

    def submit(
        self,
        kind: str,
        workspace: str,
        args: Mapping[str, Any],
        *,
        label: str,
        meta: Mapping[str, Any] | None = None,
    ) -> Job:
        """Queue a job of ``kind`` in Redis; ``meta`` (JSON-able) is kept with it.

        Raises
        ------
        GisappError
            If ``kind`` is unknown or ``args`` are not plain JSON data.
        BusyError
            If ``max_queued`` jobs are already waiting, or Redis does not answer.
        """
        from redis.exceptions import RedisError

        plain = check_job_args(kind, args)
        job_meta = {**check_job_args(kind, dict(meta or {})), "label": label, "kind": kind}
        job_meta["progress"] = 0.0
        try:
            waiting = self.queue.count
            if waiting >= self.max_queued:
                raise _busy(waiting)
            rq_job = self.queue.enqueue_call(
                "gisapp.services.jobs.execute_job",
                args=(
                    kind,
                    workspace,
                    plain,
                    self.heartbeat_s,
                    self.job_timeout_s,
                    self.keep_s,
                    current_language(),
                ),
                timeout=int(self.job_timeout_s),
                result_ttl=int(self.keep_s),
                failure_ttl=int(self.keep_s),
                description=label,
                job_id=uuid.uuid4().hex,
                meta=job_meta,
            )
        except RedisError:
            raise self._unreachable() from None
        return self._job(rq_job)

    def status(self, job_id: str) -> Job | None:
        """The job of this id as Redis has it, or ``None`` if unknown or expired.

        Raises
        ------
        BusyError
            If Redis does not answer.
        """
        from redis.exceptions import RedisError
        from rq.exceptions import NoSuchJobError
        from rq.job import Job as RQJob

        try:
            rq_job = RQJob.fetch(
                job_id, connection=self.connection, serializer=self.queue.serializer
            )
            if self._lost(rq_job):
                self._fail_lost(rq_job)
            return self._job(rq_job)
        except NoSuchJobError:
            return None
        except RedisError:
            raise self._unreachable() from None

    def wait(self, job_id: str, timeout_s: float | None = None) -> Job | None:
        """Block until the job has ended (or ``timeout_s`` passed); return it."""
        return _wait(self, job_id, timeout_s, poll_s=0.2)

    def _unreachable(self) -> BusyError:
        return BusyError(
            _(
                "the job queue at %(url)s does not answer; try again in a few "
                "minutes or ask your administrator to start Redis",
                url=_shown_url(self.url),
            ),
            retry_after_s=60,
        )

    def _job(self, rq_job: RQJob) -> Job:
        from rq.job import JobStatus

        rq_status = rq_job.get_status(refresh=False)
        meta = dict(rq_job.meta)
        job = Job(
            rq_job.id,
            str(meta.pop("label", rq_job.description or "")),
            str(meta.pop("kind", "")),
            meta,
            progress=float(meta.pop("progress", 0.0) or 0.0),
        )
        error = meta.pop("error", None)
        if rq_status == JobStatus.FINISHED:
            job.status, job.progress, job.result = "done", 1.0, rq_job.return_value()
        elif rq_status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            job.status = "failed"
            job.error = str(error) if error else str(WORKER_LOST_ERROR)
        elif rq_status == JobStatus.STARTED:
            job.status = "running"
        return job

    def _lost(self, rq_job: RQJob) -> bool:
        """Whether the job is running by RQ's record but its heartbeat has stopped."""
        from rq.job import JobStatus

        if rq_job.get_status(refresh=False) != JobStatus.STARTED:
            return False
        if self.connection.exists(_alive_key(rq_job.id)):
            return False
        if self.connection.exists(_began_key(rq_job.id)):
            return True  # it had a heartbeat, and it stopped
        started = rq_job.started_at
        if started is None:
            return False
        if started.tzinfo is None:
            started = started.replace(tzinfo=dt.UTC)
        age_s = (dt.datetime.now(dt.UTC) - started).total_seconds()
        return age_s > max(self.start_grace_s, self.heartbeat_s)

    def _fail_lost(self, rq_job: RQJob) -> None:
        """Record a job whose worker was lost as failed, in RQ's failed job registry."""
        from rq.job import JobStatus
        from rq.registry import FailedJobRegistry, StartedJobRegistry

        # One reader records it; the others see its record.
        if not self.connection.set(f"gisapp:job:{rq_job.id}:lost", 1, nx=True, ex=60):
            rq_job.refresh()
            return
        rq_job.refresh()
        if rq_job.get_status(refresh=False) != JobStatus.STARTED:
            return  # it ended between the two looks
        logger.warning("job %s (%s): its worker was lost", rq_job.id, rq_job.description)
        rq_job.meta["error"] = str(WORKER_LOST_ERROR)
        rq_job.save_meta()
        started = StartedJobRegistry(queue=self.queue)
        if hasattr(started, "remove_executions"):  # RQ 2 and later
            started.remove_executions(rq_job)
        else:
            started.remove(rq_job)
        FailedJobRegistry(queue=self.queue).add(
            rq_job, ttl=int(self.keep_s), exc_string=str(WORKER_LOST_ERROR)
        )
        rq_job.set_status(JobStatus.FAILED)


#: The heartbeat of a running job: a small process, so that a job holding Python's lock in
#: a long native call (the route solver) still beats; it stops when its worker is gone.
_BEAT_SCRIPT = """
import os, sys, time
from redis import Redis
key, ttl_ms, parent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
connection = Redis.from_url(os.environ["GISAPP_HEARTBEAT_URL"])
while os.getppid() == parent:
    connection.set(key, 1, px=ttl_ms)
    time.sleep(ttl_ms / 3000)
"""

#: The Redis address of this process's worker (set by :func:`run_worker`).
_worker_url: str | None = None


def _connection_url(connection: Redis) -> str:
    """The address of ``connection``: the worker's, else rebuilt from its settings."""
    if _worker_url:
        return _worker_url
    kwargs = connection.connection_pool.connection_kwargs
    db = kwargs.get("db", 0)
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={db}"
    user, password = kwargs.get("username") or "", kwargs.get("password")
    login = f"{quote(user)}:{quote(password)}@" if password else ""
    return f"redis://{login}{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{db}"


@contextmanager
def _heartbeat(connection: Redis, job_id: str, heartbeat_s: float, keep_s: float) -> Iterator[None]:
    """Refresh the job's heartbeat key every third of ``heartbeat_s`` while it runs.

    A second key records that the job began (kept ``keep_s``). The heartbeat key is left
    to expire rather than deleted: between the job's end and RQ's record of it, a reader
    must not take the job for lost.
    """
    key, ttl_ms = _alive_key(job_id), max(int(heartbeat_s * 1000), 1000)
    connection.set(key, 1, px=ttl_ms)
    connection.set(_began_key(job_id), 1, ex=max(int(keep_s), 1))
    beat = subprocess.Popen(
        [sys.executable, "-c", _BEAT_SCRIPT, key, str(ttl_ms), str(os.getpid())],
        env={**os.environ, "GISAPP_HEARTBEAT_URL": _connection_url(connection)},
        stdin=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        beat.terminate()
        beat.wait()
        connection.set(key, 1, px=ttl_ms)


def _meta_progress(rq_job: RQJob) -> Callable[[float], None]:
    """A progress callback writing the share done to the job's meta (each percent)."""
    shown = [0.0]

    def progress(share: float) -> None:
        share = min(max(float(share), shown[0]), 1.0)
        if share - shown[0] >= 0.01 or (share == 1.0 and shown[0] < 1.0):
            shown[0] = share
            rq_job.meta["progress"] = round(share, 4)
            rq_job.save_meta()

    return progress


def execute_job(
    kind: str,
    workspace: str,
    args: dict[str, Any],
    heartbeat_s: float = 30.0,
    job_timeout_s: float = 4 * 3600.0,
    keep_s: float = 86_400.0,
    language: str | None = None,
) -> Any:
    """Run a queued job inside an RQ worker (what :class:`RQJobQueue` enqueues), in the
    language of whoever submitted it.

    Progress goes to the job's meta (``progress``), a user error's message or the general
    words to its meta (``error``) before RQ records the failure.
    """
    from rq import get_current_job
    from rq.timeouts import JobTimeoutException

    rq_job = get_current_job()
    if rq_job is None:
        raise RuntimeError("execute_job runs inside an RQ worker only")
    with use_language(language), _heartbeat(rq_job.connection, rq_job.id, heartbeat_s, keep_s):
        try:
            return run_job(kind, workspace, args, _meta_progress(rq_job))
        except USER_ERRORS as exc:
            rq_job.meta["error"] = str(exc)
            raise
        except JobTimeoutException:
            rq_job.meta["error"] = _timeout_error(job_timeout_s / 60)
            raise
        except Exception:
            logger.exception("job %s (%s) failed", rq_job.id, rq_job.description)
            rq_job.meta["error"] = str(UNEXPECTED_ERROR)
            raise
        finally:
            if "error" in rq_job.meta:
                rq_job.save_meta()


def run_worker(url: str, *, burst: bool = False, name: str | None = None) -> bool:
    """Run an RQ worker on the gisapp queue at ``url``: jobs one at a time, in this process.

    A worker keeps its street networks in memory from one job to the next (no fork per
    job). Start one per core to use; on any number of machines that reach the Redis server
    and the workspaces.

    Parameters
    ----------
    url
        The Redis address.
    burst
        Run the jobs waiting now, then return (instead of waiting for more).
    name
        The worker's name in Redis (unique); a generated one by default.

    Returns
    -------
    bool
        Whether any job was run.

    Raises
    ------
    SettingsError, BusyError
        As :func:`redis_connection`.
    """
    from rq import Queue, SimpleWorker
    from rq.serializers import JSONSerializer

    global _worker_url
    connection = redis_connection(url)
    _worker_url = url
    jobs = Queue(QUEUE_NAME, connection=connection, serializer=JSONSerializer)
    worker = SimpleWorker([jobs], connection=connection, serializer=JSONSerializer, name=name)
    return bool(worker.work(burst=burst, logging_level="INFO"))


__all__ = [
    "QUEUE_NAME",
    "Job",
    "JobQueue",
    "JobRunner",
    "RQJobQueue",
    "execute_job",
    "job_queue",
    "redis_connection",
    "run_job",
    "run_worker",
]
