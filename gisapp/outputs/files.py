"""File names and atomic writes: the one rule for naming files after user text.

A unit id such as ``巡逻一组`` or ``../../etc/x`` becomes a file name that keeps readable
(Chinese letters stay) and can never leave its output folder on any system.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gisapp.errors import ExportError
from gisapp.plans import text
from layers.i18n import _

if TYPE_CHECKING:
    import pandas as pd

_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
_MAX_NAME_BYTES = 120  # leaves room for a suffix under the 255-byte limit of most file systems


def safe_file_name(name: Any, *, suffix: str = "", fallback: str = "unnamed") -> str:
    """Return a file name made from user text that stays inside its folder on any system.

    Path separators (``/`` and ``\\``), drive colons, characters Windows refuses, control
    characters and NUL are replaced by ``_``; leading dots and spaces (``..``, hidden
    files) and trailing dots and spaces (which Windows drops) are removed; Windows device
    names (``CON``, ``NUL``, ``COM1``...) get a leading ``_``; the name is cut to
    120 bytes. Non-Latin text (e.g. 巡逻一组) is kept.

    Parameters
    ----------
    name
        User text, e.g. a unit id.
    suffix
        Ending added after sanitising, e.g. ``".gpx"`` (must itself be safe).
    fallback
        Name used when nothing is left.

    Returns
    -------
    str
        A single path component.
    """
    cleaned = unicodedata.normalize("NFKC", text(name))
    cleaned = re.sub(r'[\x00-\x1f\x7f<>:"/\\|?*]', "_", cleaned)
    cleaned = cleaned.strip(" .")
    encoded = cleaned.encode("utf-8")[:_MAX_NAME_BYTES]
    cleaned = encoded.decode("utf-8", errors="ignore").rstrip(" .")
    if not cleaned:
        cleaned = fallback
    stem = cleaned.split(".", 1)[0].rstrip(" ").upper()
    if stem in _WINDOWS_RESERVED:
        cleaned = "_" + cleaned
    return cleaned + suffix


def unique_file_names(names: Iterable[Any], *, suffix: str = "") -> list[str]:
    """Safe file names for ``names``, made distinct (``-2``, ``-3``...) ignoring case.

    Two units whose ids sanitise alike (``a/b`` and ``a:b``) or differ only in case would
    otherwise overwrite each other's file on Windows and macOS.
    """
    seen: set[str] = set()
    out = []
    for name in names:
        base = safe_file_name(name)
        candidate, k = base, 1
        while (candidate + suffix).casefold() in seen:
            k += 1
            candidate = f"{base}-{k}"
        seen.add((candidate + suffix).casefold())
        out.append(candidate + suffix)
    return out


def safe_path(out_dir: str | os.PathLike[str], name: str) -> Path:
    """Join ``out_dir`` and a file name, refusing any result outside ``out_dir``.

    Raises
    ------
    ExportError
        If ``name`` is not a single safe path component.
    """
    root = Path(out_dir).resolve()
    if (
        not name
        or name != safe_file_name(name, fallback="")
        or "\x00" in name
        or Path(name).is_absolute()
    ):
        raise ExportError(
            _("%(name)r is not a plain file name; choose a name without folders", name=name)
        )
    path = (root / name).resolve()
    if path.parent != root:
        raise ExportError(
            _(
                "file name %(name)r would leave the output folder %(folder)r",
                name=name,
                folder=str(root),
            )
        )
    return path


def output_dir(out_dir: str | os.PathLike[str]) -> Path:
    """The output folder, created when needed.

    Raises
    ------
    ExportError
        If ``out_dir`` is a file.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError(_("%(path)r is a file; give a folder for the outputs", path=str(out)))
    out.mkdir(parents=True, exist_ok=True)
    return out.resolve()


def write_file(path: Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file)."""
    blob = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(blob)
    os.replace(tmp, path)
    return path


#: CSV files for people start with a UTF-8 byte order mark: Excel on Chinese Windows
#: otherwise reads them as GBK and garbles every Chinese name.
CSV_BOM = "\ufeff"


def csv_text(table: pd.DataFrame, *, index: bool = False) -> str:
    """The one CSV form of every table written for people: UTF-8 text with a BOM.

    Parameters
    ----------
    table
        The rows (drop a geometry column first).
    index
        Write the index as the first column.

    Returns
    -------
    str
        CSV text starting with the BOM, lines ending in ``\n``; encode it as UTF-8.
    """
    return CSV_BOM + str(table.to_csv(index=index, lineterminator="\n"))


def write_csv(table: pd.DataFrame, path: str | os.PathLike[str], *, index: bool = False) -> Path:
    """Write :func:`csv_text` of ``table`` to ``path`` atomically (UTF-8 with a BOM)."""
    return write_file(Path(path), csv_text(table, index=index))
