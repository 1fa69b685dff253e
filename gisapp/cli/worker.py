"""Worker command: ``gisapp worker`` runs the long jobs the web queues in Redis."""

from __future__ import annotations

import click

from gisapp.cli._common import settings_from
from layers.i18n import _


@click.command("worker")
@click.option(
    "--queue",
    "queue_url",
    default=None,
    metavar="URL",
    help="Redis address of the job queue (default: the job_queue setting, "
    "e.g. redis://localhost:6379/0).",
)
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then exit.")
@click.option("--name", default=None, help="This worker's name, unique among the workers.")
@click.pass_context
def worker(ctx: click.Context, queue_url: str | None, burst: bool, name: str | None) -> None:
    """Run queued long jobs (plans, coverage, placement, grid design, exports).

    Start one per core to use, on any number of machines that reach the Redis server and
    the workspaces; each runs one job at a time and keeps its street networks in memory
    between jobs. The web's progress pages follow the jobs; a worker stopped in the middle
    of a job leaves the workspace as it was and the job reported failed.
    """
    from gisapp.errors import SettingsError
    from gisapp.services.jobs import run_worker

    url = queue_url or settings_from(ctx).job_queue
    if not url:
        raise SettingsError(
            _(
                "no job queue is set: give --queue redis://HOST:6379/0, or set job_queue in "
                "the settings file or GISAPP_JOB_QUEUE"
            )
        )
    ran = run_worker(url, burst=burst, name=name)
    if burst:
        click.echo(_("Ran the waiting jobs.") if ran else _("No job was waiting."))
