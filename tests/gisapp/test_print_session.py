"""The print session: Chromium printing pages in its own thread while the caller works."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

from gisapp.errors import BusyError, ExportError
from gisapp.render import maps, printing
from gisapp.render.browser import CHROMIUM_PATH
from gisapp.render.printing import (
    Printout,
    limit_printing,
    print_limit,
    print_page,
    print_pages,
    print_session,
)


@pytest.fixture
def one_print_at_a_time() -> Iterator[None]:
    jobs, wait_s = print_limit()
    limit_printing(1, wait_s=0)
    yield
    limit_printing(jobs, wait_s=wait_s)


@pytest.fixture
def fake_chromium(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Chromium replaced by a loop giving each page's first bytes; records its closing."""
    events: list[str] = []

    def run(exe: Path, jobs: Iterable[Any], *, viewport: dict[str, int]) -> Iterator[bytes]:
        events.append("launched")
        try:
            for job in jobs:
                yield job.page_html.encode()[:12]
        finally:
            events.append("closed")

    monkeypatch.setattr(printing, "chromium_executable", lambda path=None: Path("chromium"))
    monkeypatch.setattr(printing, "_run_chromium", run)
    return events


def _print_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "gisapp-print"]


def test_a_session_gives_each_page_its_bytes_in_order(fake_chromium: list[str]) -> None:
    with print_session() as printer:
        futures = [printer.submit(Printout(f"page number {n}", "pdf")) for n in range(3)]
        assert [f.result(timeout=30) for f in futures] == [b"page number "] * 3
    assert fake_chromium == ["launched", "closed"]
    assert _print_threads() == []
    assert print_pages([Printout("abc", "pdf"), Printout("de", "png", 96)]) == [b"abc", b"de"]


def test_a_session_checks_the_dpi_and_refuses_pages_once_closed(fake_chromium: list[str]) -> None:
    with (
        print_session() as printer,
        pytest.raises(ExportError, match="'dpi' should be between 72 and 600"),
    ):
        printer.submit(Printout("page", "png", 5000))
    with pytest.raises(RuntimeError, match="closed"):
        printer.submit(Printout("page", "pdf"))


def test_a_caller_raising_drops_the_waiting_pages_and_closes_chromium(
    fake_chromium: list[str],
) -> None:
    with pytest.raises(KeyError), print_session() as printer:
        future = printer.submit(Printout("page", "pdf"))
        raise KeyError("the caller failed")
    assert fake_chromium[-1] == "closed"
    assert _print_threads() == []
    # printed before the session closed, or dropped: either way the future is settled
    assert future.done()


def test_a_session_holds_a_print_slot_for_its_life(
    fake_chromium: list[str], one_print_at_a_time: None
) -> None:
    for _ in range(2):  # the slot is released after each session
        with print_session() as printer:
            assert printer.submit(Printout("page", "pdf")).result(timeout=30) == b"page"
            with pytest.raises(BusyError), print_session():
                pass
    assert fake_chromium == ["launched", "closed"] * 2


def _page(label: str) -> str:
    """A printable page with one small map."""
    points = gpd.GeoDataFrame(
        {"id": [label]}, geometry=[shapely.Point(114.3, 30.5)], crs="EPSG:4326"
    )
    m = maps.base_map([114.29, 30.49, 114.31, 30.51])
    maps.add_points(m, points, name="Points")
    return print_page(
        maps.render_html(m, inline_assets=True, layer_control=False),
        title=label,
        meta=[],
        page_footer="",
        sections=[],
        width_mm=210,
        height_mm=297,
    )


def _same_picture(png: bytes, other: bytes) -> bool:
    """Same size and the same pixels but for a little anti-aliasing noise."""
    from io import BytesIO

    import numpy as np
    from PIL import Image

    first, second = (
        np.asarray(Image.open(BytesIO(d)).convert("RGB"), dtype=int) for d in (png, other)
    )
    return first.shape == second.shape and float(np.abs(first - second).mean()) < 0.5


def _without_dates(pdf: bytes) -> bytes:
    return re.sub(rb"/(CreationDate|ModDate) \(D:[^)]*\)", b"", pdf)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed")
def test_a_session_prints_as_print_pages_does() -> None:
    printouts = [
        Printout(_page("first"), "png", 96),
        Printout(_page("second"), "pdf"),
        Printout(_page("third"), "png", 150),
    ]
    with print_session() as printer:
        futures = [printer.submit(p) for p in printouts]
        printed = [f.result() for f in futures]
    assert _print_threads() == []
    expected = print_pages(printouts)
    assert printed[0].startswith(b"\x89PNG") and printed[1].startswith(b"%PDF")
    for ours, theirs in ((printed[0], expected[0]), (printed[2], expected[2])):
        assert _same_picture(ours, theirs)
    assert _without_dates(printed[1]) == _without_dates(expected[1])


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed")
def test_a_page_without_a_map_fails_and_chromium_is_closed(one_print_at_a_time: None) -> None:
    with pytest.raises(ExportError, match="the map did not draw"), print_session() as printer:
        printer.submit(Printout(_page("fine"), "pdf"))
        printer.submit(Printout("<html><body>no map</body></html>", "pdf")).result()
    assert _print_threads() == []
    # the slot is free again
    assert print_pages([Printout(_page("again"), "pdf")])[0].startswith(b"%PDF")
