"""Printing pages to PDF and PNG in headless Chromium, offline, once the map has drawn.

A printed page is the offline HTML page laid out in sections; Chromium loads nothing from
anywhere (every request is refused) and prints only once Leaflet has drawn.

Each print runs a Chromium (several processes and a few hundred MB), so a process prints
at most :func:`print_limit` pages at once: a print waits a bounded time for a free slot,
then gives up with :class:`gisapp.errors.BusyError` (the web app answers 503 with
``Retry-After``) instead of piling up browsers. ``gisapp serve`` sets the limit from the
``print_jobs`` and ``print_wait_s`` settings (:func:`limit_printing`).
"""

from __future__ import annotations

import collections
import dataclasses
import importlib.util
import logging
import math
import os
import queue
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import folium
import jinja2
import markupsafe
from branca.element import MacroElement
from jinja2 import Template

from gisapp.errors import BusyError, ExportError, SettingsError
from gisapp.plans import text
from gisapp.render import maps
from gisapp.render.browser import CHROMIUM_ARGS, CHROMIUM_PATH
from gisapp.store.geopackage import Workspace
from layers.i18n import _, _l, format_number, gettext, ngettext

logger = logging.getLogger(__name__)


#: Paper sizes in millimetres, portrait (width, height).
PAPER_SIZES_MM: dict[str, tuple[float, float]] = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}


MARGIN_MM = 10.0


_PX_PER_MM = 96 / 25.4


_BRIEFING_DIR = Path(__file__).resolve().parent / "_briefing"


Paper = Literal["A4", "A3"]

#: Pages printed at once by default, and seconds a print waits for a free slot.
DEFAULT_PRINT_JOBS = 2
DEFAULT_PRINT_WAIT_S = 10.0
#: What a user is told when every slot stays taken, and when to try again.
BUSY_MESSAGE = _l("Another briefing is being printed; try again in a minute.")
BUSY_RETRY_AFTER_S = 60

_limit_lock = threading.Lock()
_print_slots = threading.BoundedSemaphore(DEFAULT_PRINT_JOBS)
_print_limit = (DEFAULT_PRINT_JOBS, DEFAULT_PRINT_WAIT_S)


def limit_printing(jobs: int, *, wait_s: float) -> None:
    """Print at most ``jobs`` pages at once; a print waits up to ``wait_s`` for a slot.

    Prints already running finish under the previous limit.

    Raises
    ------
    SettingsError
        If ``jobs`` is below 1 or ``wait_s`` is negative.
    """
    global _print_slots, _print_limit
    if jobs < 1 or wait_s < 0:
        raise SettingsError(
            _(
                "print_jobs should be 1 or more and print_wait_s 0 or more, "
                "got %(jobs)s and %(wait)s",
                jobs=jobs,
                wait=wait_s,
            )
        )
    with _limit_lock:
        _print_slots = threading.BoundedSemaphore(jobs)
        _print_limit = (jobs, float(wait_s))


def print_limit() -> tuple[int, float]:
    """The pages printed at once and the seconds a print waits for a slot."""
    return _print_limit


@contextmanager
def print_slot() -> Iterator[None]:
    """Hold one of the print slots while the block runs.

    Raises
    ------
    BusyError
        If no slot came free within the wait of :func:`limit_printing`.
    """
    with _limit_lock:
        slots, (_, wait_s) = _print_slots, _print_limit
    if not slots.acquire(timeout=wait_s):
        raise BusyError(str(BUSY_MESSAGE), retry_after_s=BUSY_RETRY_AFTER_S)
    try:
        yield
    finally:
        slots.release()


@dataclass(frozen=True)
class Section:
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    cell_classes: Sequence[str]
    row_classes: Sequence[str]
    figures: str = ""
    color: str = ""
    note: str = ""
    new_page: bool = True
    #: Who the section is for (call sign, officer, phone), printed under its title.
    details: str = ""
    #: Name of a map of the same page (``folium.Map.get_name()``) drawn above the table.
    map_name: str = ""


_WAIT_DRAWN_JS = """() => new Promise((resolve) => {
  if (typeof L === 'undefined') { resolve(-1); return; }
  // folium names its map variables map_<hex>; reading every window property would touch
  // storage, which a page set from memory may not read.
  const maps = Object.keys(window)
    .filter(k => k.startsWith('map_') && window[k] instanceof L.Map).map(k => window[k]);
  if (!maps.length) { resolve(-1); return; }
  // The print layout may have resized a map after Leaflet measured it: without this
  // the canvas layers stay drawn for the old size and leave bands of the map blank.
  maps.forEach(map => map.whenReady(() => { map.invalidateSize(false); map.fire('moveend'); }));
  requestAnimationFrame(() => requestAnimationFrame(() => {
    let drawn = 0;
    maps.forEach(map => map.eachLayer(l => { if (l._parts && l._parts.length) drawn += 1; }));
    resolve(drawn);
  }));
})"""


@dataclass(frozen=True)
class Printout:
    """One page to print: to PDF, or its first sheet (``.sheet``) to PNG at ``dpi``."""

    page_html: str
    kind: Literal["pdf", "png"]
    dpi: int = 300


def print_pages(
    printouts: Sequence[Printout],
    *,
    paper: Paper = "A4",
    landscape: bool = False,
    chromium_path: str | os.PathLike[str] | None = None,
) -> list[bytes]:
    """Print every page of ``printouts`` in one headless Chromium (started once), offline.

    A PDF is printed at twice the screen's resolution for the street canvas of an
    interactive map (a printed map draws its streets as vectors); a PNG is the first sheet
    (title, map, footer) at its ``dpi``. A caller with other work to do meanwhile opens a
    :func:`print_session` instead.

    Returns
    -------
    list of bytes
        The PDF or PNG bytes of each printout, in order.

    Raises
    ------
    ExportError
        If a ``dpi`` is out of 72-600, Chromium or Playwright is missing, or a map did not
        draw.
    BusyError
        If other prints hold every slot (see :func:`limit_printing`).
    """
    page_size(paper, landscape)
    for printout in printouts:
        _check_dpi(printout)
    with print_session(paper=paper, landscape=landscape, chromium_path=chromium_path) as printer:
        printed = [printer.submit(printout) for printout in printouts]
        return [future.result() for future in printed]


@contextmanager
def print_session(
    *,
    paper: Paper = "A4",
    landscape: bool = False,
    chromium_path: str | os.PathLike[str] | None = None,
) -> Iterator[PrintSession]:
    """A headless Chromium printing pages while the caller goes on with its work.

    Chromium starts in a thread of its own as the session opens; each
    :meth:`PrintSession.submit` hands it a page and returns a future of the page's bytes.
    The session holds a print slot (:func:`print_slot`) while it is open. On leaving the
    block the pages handed over are printed (those not yet started are dropped when the
    block raises) and Chromium is closed::

        with print_session(paper="A4") as printer:
            pdf = printer.submit(Printout(page_html, "pdf"))
            ...  # other work while Chromium prints
            data = pdf.result()

    Raises
    ------
    ExportError
        If ``paper`` is unknown, or Chromium or Playwright is missing.
    BusyError
        If other prints hold every slot (see :func:`limit_printing`).
    """
    width_mm, height_mm = page_size(paper, landscape)
    exe = chromium_executable(chromium_path)
    if importlib.util.find_spec("playwright") is None:
        raise ExportError(
            _("PDF and PNG exports need the 'playwright' package: pip install playwright")
        )
    # The viewport is the printable page, so Leaflet draws the whole map at the size it
    # prints: its canvas renders only what lies in the viewport when the map loads.
    viewport = {
        "width": round((width_mm - 2 * MARGIN_MM) * _PX_PER_MM),
        "height": round((height_mm - 2 * MARGIN_MM) * _PX_PER_MM),
    }
    with print_slot():
        session = PrintSession(exe, paper=paper, landscape=landscape, viewport=viewport)
        try:
            yield session
        except BaseException:
            session.close(drop_waiting=True)
            raise
        session.close(drop_waiting=False)


class PrintSession:
    """One Chromium, in a thread of its own, printing the pages handed to it in order.

    Opened by :func:`print_session`; Playwright's synchronous API is used from that
    thread alone.
    """

    def __init__(
        self, exe: Path, *, paper: Paper, landscape: bool, viewport: dict[str, int]
    ) -> None:
        self._paper, self._landscape = paper, landscape
        self._waiting: queue.SimpleQueue[tuple[_PrintJob, Future[bytes]] | None] = (
            queue.SimpleQueue()
        )
        self._futures: list[Future[bytes]] = []
        #: The pages Chromium took, whose bytes are still to come.
        self._taken: collections.deque[Future[bytes]] = collections.deque()
        self._lock = threading.Lock()
        self._closed = self._finished = self._dropping = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._print_all, args=(exe, viewport), name="gisapp-print", daemon=True
        )
        self._thread.start()

    def submit(self, printout: Printout) -> Future[bytes]:
        """Hand ``printout`` to Chromium; the future gives its PDF or PNG bytes.

        The future's ``result()`` raises :class:`ExportError` when the page could not be
        printed (its map did not draw, Chromium failed).

        Raises
        ------
        ExportError
            If its ``dpi`` is out of 72-600.
        RuntimeError
            If the session is closed.
        """
        _check_dpi(printout)
        job = _print_job(printout, paper=self._paper, landscape=self._landscape)
        future: Future[bytes] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the print session is closed; open another")
            if self._finished:
                # Chromium stopped on an earlier page: this one is not printed either
                future.set_exception(self._stopped_error())
                return future
            self._futures.append(future)
            self._waiting.put((job, future))
        return future

    def close(self, *, drop_waiting: bool) -> None:
        """Print the pages handed over (none not yet started with ``drop_waiting``), then
        close Chromium and wait for its thread."""
        with self._lock:
            self._closed = True
            self._dropping = drop_waiting
        self._waiting.put(None)
        self._thread.join()

    def _jobs(self) -> Iterator[_PrintJob]:
        """The pages handed over, as they come, until the session closes."""
        while (item := self._waiting.get()) is not None and not self._dropping:
            job, future = item
            self._taken.append(future)
            yield job

    def _print_all(self, exe: Path, viewport: dict[str, int]) -> None:
        try:
            for data in _run_chromium(exe, self._jobs(), viewport=viewport):
                # Chromium gives the bytes of the pages in the order it took them
                self._taken.popleft().set_result(data)
        except Exception as exc:  # handed to the pages' futures, raised by their result()
            self._error = exc
        finally:
            with self._lock:
                self._finished = True
                for future in self._futures:
                    if not future.done():
                        future.set_exception(self._stopped_error())

    def _stopped_error(self) -> BaseException:
        if self._error is not None:
            return self._error
        return ExportError(_("printing stopped before the page was printed"))


def _check_dpi(printout: Printout) -> None:
    if printout.kind == "png" and not 72 <= printout.dpi <= 600:
        raise ExportError(
            _(
                "'dpi' should be between 72 and 600, got %(dpi)r; 300 is print quality",
                dpi=printout.dpi,
            )
        )


def _print_job(printout: Printout, *, paper: Paper, landscape: bool) -> _PrintJob:
    """What Chromium does with ``printout``: print it to PDF, or shoot its first sheet."""
    margin = f"{MARGIN_MM:g}mm"

    def pdf(page: Any) -> bytes:
        data: bytes = page.pdf(
            format=paper,
            landscape=landscape,
            print_background=True,
            margin={"top": margin, "bottom": margin, "left": margin, "right": margin},
        )
        return data

    def png(page: Any) -> bytes:
        data: bytes = page.locator(".sheet").first.screenshot(type="png")
        return data

    if printout.kind == "pdf":
        return _PrintJob(printout.page_html, 2.0, pdf)
    return _PrintJob(printout.page_html, printout.dpi / 96, png)


def print_pdf(
    page_html: str,
    *,
    paper: Paper = "A4",
    landscape: bool = False,
    chromium_path: str | os.PathLike[str] | None = None,
) -> bytes:
    """Print a page from :func:`briefing_page` (or similar) to PDF (see :func:`print_pages`)."""
    printout = Printout(page_html, "pdf")
    return print_pages([printout], paper=paper, landscape=landscape, chromium_path=chromium_path)[0]


def print_png(
    page_html: str,
    *,
    paper: Paper = "A4",
    landscape: bool = False,
    dpi: int = 300,
    chromium_path: str | os.PathLike[str] | None = None,
) -> bytes:
    """The first sheet of a page at ``dpi`` as PNG bytes (see :func:`print_pages`)."""
    printout = Printout(page_html, "png", dpi)
    return print_pages([printout], paper=paper, landscape=landscape, chromium_path=chromium_path)[0]


@dataclass(frozen=True)
class _PrintJob:
    page_html: str
    #: Device pixels per CSS pixel.
    scale: float
    action: Callable[[Any], bytes]


def chromium_executable(path: str | os.PathLike[str] | None = None) -> Path:
    """The Chromium binary to print with.

    Raises
    ------
    ExportError
        If it is not installed.
    """
    exe = Path(path) if path is not None else CHROMIUM_PATH
    if not exe.is_file():
        raise ExportError(
            _(
                "Chromium is not at %(path)r; install the 'chromium' system package "
                "(PDF and PNG exports print through it) or choose html/gpx/geojson/gpkg/csv",
                path=str(exe),
            )
        )
    return exe


def _run_chromium(
    exe: Path, jobs: Iterable[_PrintJob], *, viewport: dict[str, int]
) -> Iterator[bytes]:
    """Load each job's page in its own offline context of one Chromium, wait for its maps,
    run its action, and give its bytes; the jobs may still be coming while it prints.

    The pages are read from private temporary files: handing megabytes of map data to the
    browser through its control channel (``set_content``) took twice as long.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    refused: list[str] = []
    errors: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="gisapp-print-") as folder, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(exe), args=list(CHROMIUM_ARGS))
            try:
                for number, job in enumerate(jobs):
                    page_file = Path(folder) / f"page-{number}.html"
                    page_file.write_text(job.page_html, encoding="utf-8")
                    yield _print_one(browser, job, page_file.as_uri(), viewport, refused, errors)
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise ExportError(_("Chromium failed to print the page: %(error)s", error=exc)) from None
    finally:
        if refused:
            logger.warning(
                "the printed page asked for %s resource(s), refused: %s", len(refused), refused[:5]
            )
        if errors:
            logger.warning("the printed page logged errors: %s", errors[:5])


def _print_one(
    browser: Any,
    job: _PrintJob,
    page_url: str,
    viewport: dict[str, int],
    refused: list[str],
    errors: list[str],
) -> bytes:
    context = browser.new_context(
        viewport=cast(Any, viewport), device_scale_factor=job.scale, offline=True
    )
    try:

        def refuse(route: Any) -> None:
            if route.request.url == page_url:
                route.continue_()
                return
            refused.append(route.request.url)
            route.abort()

        # The page is self-contained: anything else it asks for (another file included)
        # is refused and reported.
        context.route("**/*", refuse)
        page = context.new_page()
        page_errors: list[str] = []
        page.on(
            "console", lambda msg: page_errors.append(msg.text) if msg.type == "error" else None
        )
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        page.emulate_media(media="print")
        page.goto(page_url, wait_until="load")
        drawn = page.evaluate(_WAIT_DRAWN_JS)
        if drawn < 0:
            raise ExportError(
                _(
                    "the map did not draw before printing (%(reason)s)",
                    reason="; ".join(page_errors) or _("no Leaflet map on the page"),
                )
            )
        result: bytes = job.action(page)
        errors.extend(page_errors)
        return result
    finally:
        context.close()


def replace_section(section: Section, **changes: Any) -> Section:
    return dataclasses.replace(section, **changes)


def print_page(
    map_html: str,
    *,
    title: str,
    meta: Sequence[str],
    page_footer: str,
    sections: Sequence[Section],
    width_mm: float,
    height_mm: float,
    first_page: Sequence[Section] = (),
) -> str:
    """Wrap an inlined folium page into a printable sheet: header, map, page_footer, tables."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_BRIEFING_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    # the templates speak the reader's language, as the web templates do
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    parts: Any = env.get_template("briefing.html.j2").module
    css = env.from_string((_BRIEFING_DIR / "briefing.css").read_text(encoding="utf-8")).render(
        content_w_mm=f"{width_mm - 2 * MARGIN_MM:g}",
        # a hair under the printable height, so rounding never spills onto a blank page
        content_h_mm=f"{height_mm - 2 * MARGIN_MM - 1.5:g}",
        # a unit's map takes a bit more than half its page, its timetable the rest
        unit_map_h_mm=f"{(height_mm - 2 * MARGIN_MM) * 0.55:.0f}",
    )

    def safe(items: Sequence[Section]) -> list[Section]:
        return [replace_section(s, color=css_color(s.color) if s.color else "") for s in items]

    map_div = re.findall(r'<div class="folium-map" id="([^"]+)"\s*></div>', map_html)
    named = {s.map_name for s in sections if s.map_name}
    if (
        len(map_html.split("</head>")) != 2
        or len(map_div) != 1 + len(named)
        or set(map_div[1:]) != named
        or map_html.count("</body>") != 1
    ):
        raise ExportError(_("the map page has an unexpected layout; it cannot be printed"))
    divs = {
        name: re.search(rf'<div class="folium-map" id="{name}"\s*></div>', map_html)
        for name in map_div
    }
    section_maps = {}
    for name in map_div[1:]:
        found = divs[name]
        assert found is not None
        section_maps[name] = markupsafe.Markup(found.group(0))
        map_html = map_html.replace(found.group(0), "", 1)
    first_div = divs[map_div[0]]
    assert first_div is not None
    # the PDF's title is the page's: "about:blank" without one
    page = maps.with_title(map_html, title).replace("</head>", f"<style>{css}</style>\n</head>", 1)
    sheet = (
        str(parts.sheet_open(title, list(meta)))
        + first_div.group(0)
        + str(parts.sheet_close(page_footer, safe(first_page), section_maps))
    )
    page = page.replace(first_div.group(0), sheet, 1)
    body = str(parts.sections(safe(sections), section_maps))
    return page.replace("</body>", body + "\n</body>", 1)


def set_print_options(m: folium.Map, for_print: bool) -> None:
    if for_print:
        # Whole zoom levels waste up to half the printed map; quarter steps fill it.
        m.options["zoomSnap"] = 0.25
        m.options["zoomControl"] = False
        # No animations: the page is printed as soon as the map has drawn, and a zoom
        # still animating leaves the layers drawn for the previous view.
        m.options["zoomAnimation"] = False
        m.options["fadeAnimation"] = False
        m.options["markerZoomAnimation"] = False
        # Streets as vectors: crisp on paper, and a canvas is printed as an image (a
        # briefing of 21 maps printed in a third of the time, a third of the size).
        m.options["vectorBase"] = True


def page_size(paper: str, landscape: bool) -> tuple[float, float]:
    if paper not in PAPER_SIZES_MM:
        raise ExportError(
            _(
                "'paper' should be one of %(choices)s, got %(paper)r",
                choices=", ".join(PAPER_SIZES_MM),
                paper=paper,
            )
        )
    w, h = PAPER_SIZES_MM[paper]
    return (h, w) if landscape else (w, h)


def page_footer(ws: Workspace | None, timezone: str) -> str:
    parts = [_("Times in %(timezone)s.", timezone=timezone)]
    if ws is not None:
        notice = maps.attribution_for(ws.layer_notes)
        if notice:
            parts.append(_("Map data %(notice)s (ODbL).", notice=notice))
        road_note = ws.layer_notes.get("roads")
        if road_note and not notice:
            parts.append(_("Streets: %(note)s.", note=road_note))
    return " ".join(parts)


def css_color(value: str) -> str:
    """``value`` if it is a plain CSS colour token, else grey (it lands in a style)."""
    return value if re.fullmatch(r"#[0-9A-Fa-f]{3,8}|[a-zA-Z]{3,20}", value) else "#999"


class NorthArrow(MacroElement):
    """A north arrow in the top-right corner (web maps here are always north-up)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function () {
          var arrow = L.control({position: 'topright'});
          arrow.onAdd = function () {
            var div = L.DomUtil.create('div', 'gisapp-north');
            div.title = {{ this.title|tojson }};
            div.innerHTML = '<svg width="26" height="38" viewBox="0 0 26 38" role="img" '
              + 'aria-label="' + {{ this.title|e|tojson }} + '"><text x="13" y="11" '
              + 'text-anchor="middle" font-family="' + {{ this.font|tojson }} + '" '
              + 'font-weight="bold" font-size="11">' + {{ this.letter|e|tojson }} + '</text>'
              + '<polygon points="13,13 22,36 13,30" fill="#fff" stroke="#111" stroke-width="1.2"/>'
              + '<polygon points="13,13 4,36 13,30" fill="#111" stroke="#111" stroke-width="1.2"/>'
              + '</svg>';
            return div;
          };
          arrow.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "NorthArrow"
        self.title = _("North")
        # Translators: the letter on the north arrow of a map
        self.letter = _("N")
        self.font = "DejaVu Sans, Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif"


def cell_text(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        # two decimals at most, in the reader's number format (1,234.5)
        decimals = format_number(value, 2)
        point = format_number(0.5, 1)[1]
        return decimals.rstrip("0").rstrip(point) if point in decimals else decimals
    return text(value)
