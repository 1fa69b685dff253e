"""One typed settings object, read from a TOML file and ``GISAPP_*`` environment variables.

Nothing is read at import time: the CLI and the web app factory call :func:`load_settings`.

Precedence, lowest first: built-in defaults, the TOML file (``--config``, else
``$GISAPP_CONFIG``, else ``./gisapp.toml`` when present), then environment variables.
Every scalar setting has an environment variable named ``GISAPP_`` + its upper-case name,
e.g. ``GISAPP_TIMEZONE=Asia/Shanghai``, ``GISAPP_UPLOAD_MAX_MB=50`` or
``GISAPP_IMPORT_MAX_FEATURES=1000000``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gisapp.errors import SettingsError
from layers.i18n import _

if TYPE_CHECKING:  # the limits module reads files: the CLI's start-up does not import it
    from layers.limits import ReadLimits

#: Ceiling on a shift plan's search time (seconds): the search is bounded by its effort
#: (``plan_effort``); this is reached only on a very slow or overloaded machine.
PLAN_TIME_LIMIT_S = 300.0
#: How much the drives between a plan's stops prefer risky streets (0: fastest paths).
STREET_RISK_WEIGHT = 0.6


@dataclass(frozen=True)
class Shift:
    """A named shift window; ``end`` before ``start`` means it crosses midnight."""

    name: str
    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def duration_h(self) -> float:
        start_h = self.start.hour + self.start.minute / 60
        end_h = self.end.hour + self.end.minute / 60
        return (end_h - start_h) % 24 or 24.0

    def label(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_shift(text: str, *, name: str | None = None) -> Shift:
    """Parse ``"22:00-06:00"`` into a :class:`Shift`.

    Raises
    ------
    SettingsError
        If ``text`` is not two ``HH:MM`` times separated by ``-``.
    """
    parts = [p.strip() for p in text.split("-")]
    try:
        if len(parts) != 2:
            raise ValueError
        # "24:00" is the usual way to write the end of an evening shift.
        start, end = (
            time(0, 0) if p == "24:00" else time.fromisoformat(p if len(p) > 2 else f"{p}:00")
            for p in parts
        )
    except ValueError:
        raise SettingsError(
            _(
                "shift %(shift)s should be two times like '22:00-06:00' (HH:MM-HH:MM)",
                shift=repr(text),
            )
        ) from None
    return Shift(name or text, start, end)


DEFAULT_SHIFTS: dict[str, str] = {
    "day": "08:00-16:00",
    "evening": "16:00-24:00",
    "night": "00:00-08:00",
    "late": "22:00-06:00",
}

#: Required response minutes for key places by kind (1-3-5 minute rapid-response circles).
DEFAULT_KEY_PLACE_MINUTES: dict[str, float] = {
    "school": 3,
    "kindergarten": 3,
    "hospital": 3,
    "station": 3,
    "mall": 5,
    "bank": 3,
    "police": 1,
}


@dataclass(frozen=True)
class Settings:
    """Settings of the CLI and the web app.

    Parameters
    ----------
    timezone
        Time zone of workspaces that do not record one.
    shifts
        Named shift windows, ``name -> "HH:MM-HH:MM"``.
    response_minutes
        The rapid-response bands (快反圈), default 1, 3 and 5 minutes.
    key_place_minutes
        Required minutes per key-place kind.
    dwell_min_minutes, dwell_max_minutes
        Hotspot stop length (the Koper curve: 10-15 minutes).
    revisit_spacing_minutes
        Minimum spacing of two stops at one hotspot before the second earns full credit.
    plan_effort
        Search done for a shift plan, in solver steps (branches): the same workspace,
        options, seed and effort give the same plan on any machine and under any load.
    secret_key
        Flask session key; ``None`` makes the web app generate one per process.
    upload_max_mb
        Largest accepted upload, as sent (64 MB); what it unpacks to is bounded by the
        ``import_*`` limits.
    session_cookie_secure
        Send the session cookie over HTTPS only.
    users_db
        SQLite file of web users; default beside the workspace.
    serve_threads
        Worker threads of ``gisapp serve`` (requests answered at once).
    print_jobs
        PDF/PNG briefings printed at once (each runs a Chromium).
    print_wait_s
        Seconds a print waits for a free slot before the user is asked to retry.
    import_max_unpacked_mb
        Megabytes the files of a zip may unpack to (200).
    import_max_files
        Files a zip may hold (200).
    import_max_ratio
        Unpacked over packed size of one zipped file above 1 MB (500; zip bombs of zeros
        reach 1,000, a DBF of repeated text about 200).
    import_max_features
        Features of one imported layer (500,000).
    import_max_vertices
        Vertices (coordinate pairs) of one imported layer (5,000,000).
    import_max_layers
        Layers read in one import (20).
    workspace_max_features, workspace_max_vertices
        Features and vertices of all layers of a workspace after an import (2,000,000 and
        20,000,000).
    keep_pileups
        Weigh incidents at pile-ups (many on one point, e.g. a reporting desk), which
        hotspots, risk and workload leave out by default.
    job_queue
        Redis address of the queue of long jobs (``redis://localhost:6379/0``), run by
        ``gisapp worker`` processes; empty: jobs run in the web server's process.
    language
        The workspace's interface language (``zh_CN`` or ``en``) for web users who have not
        chosen one, and for the CLI when neither ``--lang`` nor the environment names one;
        empty: the browser's language on the web, English on the command line.
    """

    timezone: str = "UTC"
    shifts: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SHIFTS))
    response_minutes: tuple[float, ...] = (1.0, 3.0, 5.0)
    key_place_minutes: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_KEY_PLACE_MINUTES)
    )
    dwell_min_minutes: float = 10.0
    dwell_max_minutes: float = 15.0
    revisit_spacing_minutes: float = 120.0
    plan_effort: int = 30_000
    secret_key: str | None = None
    upload_max_mb: float = 64.0
    session_cookie_secure: bool = False
    users_db: str | None = None
    serve_threads: int = 8
    print_jobs: int = 2
    print_wait_s: float = 10.0
    import_max_unpacked_mb: float = 200.0
    import_max_files: int = 200
    import_max_ratio: float = 500.0
    import_max_features: int = 500_000
    import_max_vertices: int = 5_000_000
    import_max_layers: int = 20
    workspace_max_features: int = 2_000_000
    workspace_max_vertices: int = 20_000_000
    keep_pileups: bool = False
    job_queue: str | None = None
    language: str | None = None

    def read_limits(self) -> ReadLimits:
        """The bounds on what one import may unpack to, for :mod:`layers.limits`."""
        from layers.limits import MB, ReadLimits

        return ReadLimits(
            max_unpacked_bytes=int(self.import_max_unpacked_mb * MB),
            max_members=self.import_max_files,
            max_ratio=self.import_max_ratio,
            max_features=self.import_max_features,
            max_vertices=self.import_max_vertices,
            max_layers=self.import_max_layers,
            max_workspace_features=self.workspace_max_features,
            max_workspace_vertices=self.workspace_max_vertices,
        )

    def shift(self, name_or_window: str) -> Shift:
        """Return a named shift, or parse a literal window such as ``"22:00-06:00"``."""
        if name_or_window in self.shifts:
            return parse_shift(self.shifts[name_or_window], name=name_or_window)
        return parse_shift(name_or_window)


def _coerce(name: str, raw: Any, default: Any) -> Any:
    """Coerce a TOML or environment value to the type of the default."""
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(float(x) for x in items)
        if isinstance(default, Mapping):
            if not isinstance(raw, Mapping):
                raise ValueError(raw)
            return {**default, **raw}
        return None if raw in (None, "") else str(raw)
    except (TypeError, ValueError):
        raise SettingsError(
            _(
                "setting %(name)s has an invalid value %(value)s; expected a value like "
                "%(default)s",
                name=repr(name),
                value=repr(raw),
                default=repr(default),
            )
        ) from None


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read settings from defaults, a TOML file, the environment and explicit overrides.

    Raises
    ------
    SettingsError
        If the file is missing (when named), not TOML, or has unknown keys or bad values.
    """
    env = os.environ if environ is None else environ
    defaults = Settings()
    known = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}

    file = path or env.get("GISAPP_CONFIG")
    if file is None and Path("gisapp.toml").is_file():
        file = "gisapp.toml"
    if file is not None:
        file_path = Path(file)
        if not file_path.is_file():
            raise SettingsError(
                _("settings file %(file)s does not exist", file=repr(str(file_path)))
            )
        try:
            data = tomllib.loads(file_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(
                _(
                    "settings file %(file)s is not valid TOML: %(error)s",
                    file=repr(str(file_path)),
                    error=exc,
                )
            ) from None
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise SettingsError(
                _(
                    "unknown setting(s) %(unknown)s in %(file)s; known settings: %(known)s",
                    unknown=", ".join(unknown),
                    file=repr(str(file_path)),
                    known=", ".join(known),
                )
            )
        values.update({k: _coerce(k, v, known[k]) for k, v in data.items()})

    for name, default in known.items():
        raw = env.get(f"GISAPP_{name.upper()}")
        if raw is not None and not isinstance(default, Mapping):
            values[name] = _coerce(name, raw, default)

    for name, raw in (overrides or {}).items():
        if name not in known:
            raise SettingsError(
                _(
                    "unknown setting %(name)s; known settings: %(known)s",
                    name=repr(name),
                    known=", ".join(known),
                )
            )
        values[name] = _coerce(name, raw, known[name])

    settings = dataclasses.replace(defaults, **values)
    for name, window in settings.shifts.items():
        parse_shift(window, name=name)
    for name in known:
        value = getattr(settings, name)
        if name.startswith(("import_max_", "workspace_max_", "upload_max_")) and value <= 0:
            raise SettingsError(
                _(
                    "setting %(name)s should be above 0, got %(value)s",
                    name=repr(name),
                    value=repr(value),
                )
            )
    if settings.plan_effort < 1:
        raise SettingsError(
            _(
                "setting 'plan_effort' should be a whole number above 0, got %(value)s",
                value=repr(settings.plan_effort),
            )
        )
    if settings.language is not None:
        from layers.i18n import LANGUAGES, normalize_language

        language = normalize_language(settings.language)
        if language is None:
            raise SettingsError(
                _(
                    "setting 'language' should be one of %(languages)s, got %(value)s",
                    languages=", ".join(LANGUAGES),
                    value=repr(settings.language),
                )
            )
        settings = dataclasses.replace(settings, language=language)
    if settings.dwell_min_minutes > settings.dwell_max_minutes:
        raise SettingsError(
            _(
                "dwell_min_minutes (%(low)s) is above dwell_max_minutes (%(high)s)",
                low=settings.dwell_min_minutes,
                high=settings.dwell_max_minutes,
            )
        )
    return settings
