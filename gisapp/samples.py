"""The sample workspaces bundled with gisapp (``sample_geodata/``)."""

from __future__ import annotations

from pathlib import Path

from gisapp.errors import WorkspaceError

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
            f"unknown sample {name!r}; available samples: {', '.join(SAMPLES)}"
        ) from None
    if not path.is_file():
        raise WorkspaceError(
            f"sample {name!r} is missing at {path}; run from a source checkout of gisapp "
            "(pip install -e .) or rebuild it with 'python sample_geodata/build_samples.py'"
        )
    return path
