"""The sample workspaces bundled with gisapp (``sample_geodata/``)."""

from __future__ import annotations

from pathlib import Path

from gisapp.errors import WorkspaceError
from layers.i18n import _

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_geodata"

#: Sample name -> file in ``sample_geodata/``.
SAMPLES: dict[str, str] = {
    "new_haven": "new_haven.gpkg",
    "liechtenstein": "liechtenstein.gpkg",
}


def get_path(name: str) -> Path:
    """Return the path of a bundled sample workspace.

    Raises
    ------
    WorkspaceError
        If ``name`` is not a known sample, or its file is missing from this installation.
    """
    try:
        path = SAMPLE_DIR / SAMPLES[name]
    except KeyError:
        raise WorkspaceError(
            _(
                "unknown sample %(name)s; available samples: %(samples)s",
                name=repr(name),
                samples=", ".join(SAMPLES),
            )
        ) from None
    if not path.is_file():
        raise WorkspaceError(
            _(
                "sample %(name)s is missing at %(path)s; run from a source checkout of gisapp "
                "(pip install -e .) or rebuild it with 'python sample_geodata/build_samples.py'",
                name=repr(name),
                path=path,
            )
        )
    return path
