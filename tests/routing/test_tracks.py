"""Units moving along their route lines: a hand-made L-shaped route in metres."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shapely import LineString, Point

from routing.errors import RoutingError
from routing.tracks import epoch_seconds, sample_tracks, unit_tracks

TZ = "America/New_York"
#: 600 m east, then 400 m north, then back the same way: 2 km out and home.
L_ROUTE = LineString([(0, 0), (600, 0), (600, 400), (600, 0), (0, 0)])


def at(clock: str) -> pd.Timestamp:
    return pd.Timestamp(f"2026-05-01T{clock}", tz=TZ)


def stops(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["unit_id", "seq", "x", "y", "arrive", "depart"])


def l_stops() -> pd.DataFrame:
    # leaves HQ at 22:00, dwells at the corner's far end 22:10-22:20, home at 22:30
    return stops(
        ("car-1", 0, 0.0, 0.0, pd.NaT, at("22:00")),
        ("car-1", 1, 600.0, 400.0, at("22:10"), at("22:20")),
        ("car-1", 2, 0.0, 0.0, at("22:30"), pd.NaT),
    )


def test_a_unit_follows_its_route_line_not_a_straight_line() -> None:
    (track,) = unit_tracks(l_stops(), {"car-1": L_ROUTE})
    assert track.unit_id == "car-1"
    # halfway out (22:05) it has done 500 m: on the line's first leg, not the diagonal
    (point,) = track.points_at(epoch_seconds(pd.Series([at("22:05")])))
    assert (point.x, point.y) == pytest.approx((500.0, 0.0))
    # at 22:08 it has done 800 m: 200 m up the north leg
    (point,) = track.points_at(epoch_seconds(pd.Series([at("22:08")])))
    assert (point.x, point.y) == pytest.approx((600.0, 200.0))


def test_a_unit_stays_put_while_it_dwells_and_comes_back_the_way_it_went() -> None:
    (track,) = unit_tracks(l_stops(), {"car-1": L_ROUTE})
    times = epoch_seconds(pd.Series([at("22:10"), at("22:15"), at("22:20"), at("22:25")]))
    points = track.points_at(times)
    assert [(p.x, p.y) for p in points[:3]] == [(600.0, 400.0)] * 3
    assert (points[3].x, points[3].y) == pytest.approx((500.0, 0.0))  # on the way home
    # the stop at HQ at the end is the line's last vertex, not its first
    assert track.distance_m[-1] == pytest.approx(L_ROUTE.length)


def test_the_shift_window_keeps_the_unit_at_its_station_before_and_after() -> None:
    (track,) = unit_tracks(l_stops(), {"car-1": L_ROUTE}, window=(at("21:50"), at("23:00")))
    samples = sample_tracks([track], step_s=300.0, end=at("23:00"), timezone=TZ)
    assert samples["time"].iat[0] == at("21:50") and samples["time"].iat[-1] == at("22:55")
    assert str(samples["time"].dt.tz) == TZ
    first, last = samples.iloc[0], samples.iloc[-1]
    assert (first["x"], first["y"]) == (0.0, 0.0) and (last["x"], last["y"]) == (0.0, 0.0)
    moving = samples.set_index("time").loc[at("22:05")]
    assert (moving["x"], moving["y"]) == pytest.approx((500.0, 0.0))


def test_samples_of_two_units_are_sorted_by_time_then_unit() -> None:
    other = l_stops().assign(unit_id="car-2")
    both = pd.concat([other, l_stops()], ignore_index=True)
    tracks = unit_tracks(both, {"car-1": L_ROUTE, "car-2": L_ROUTE})
    assert [t.unit_id for t in tracks] == ["car-1", "car-2"]
    samples = sample_tracks(tracks, step_s=600.0, timezone=TZ)
    assert samples["unit_id"].tolist() == ["car-1", "car-2"] * 4  # 22:00 .. 22:30
    assert samples["time"].is_monotonic_increasing


def test_iso_text_times_and_a_unit_without_a_line() -> None:
    text = l_stops().assign(
        arrive=lambda f: f["arrive"].map(lambda t: "" if pd.isna(t) else t.isoformat()),
        depart=lambda f: f["depart"].map(lambda t: "" if pd.isna(t) else t.isoformat()),
    )
    (track,) = unit_tracks(text, {})
    assert track.line.length == 0
    assert np.all(track.distance_m == 0)
    assert track.path_between(track.start_s, track.end_s) is None


def test_path_between_is_the_piece_of_route_covered() -> None:
    (track,) = unit_tracks(l_stops(), {"car-1": L_ROUTE})
    lo, hi = epoch_seconds(pd.Series([at("22:05"), at("22:08")]))
    piece = track.path_between(lo, hi)
    assert piece is not None and piece.length == pytest.approx(300.0)
    assert piece.coords[0] == pytest.approx((500.0, 0.0))
    assert Point(600, 0).distance(piece) < 1e-9


def test_bad_inputs_are_named() -> None:
    with pytest.raises(RoutingError, match="lacks column"):
        unit_tracks(l_stops().drop(columns="arrive"), {})
    with pytest.raises(RoutingError, match="no stop with an arrive or depart"):
        unit_tracks(l_stops().assign(arrive=pd.NaT, depart=pd.NaT), {})
    with pytest.raises(RoutingError, match="not ISO 8601"):
        unit_tracks(l_stops().assign(arrive="soon", depart="later"), {})
    naive = l_stops().assign(depart=pd.Timestamp("2026-05-01T22:00"), arrive=pd.NaT)
    with pytest.raises(RoutingError, match="no time zone"):
        unit_tracks(naive, {})
    with pytest.raises(RoutingError, match="step_s"):
        sample_tracks(unit_tracks(l_stops(), {}), step_s=0)
