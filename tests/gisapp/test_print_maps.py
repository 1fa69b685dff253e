"""What a printed map draws: legible at the scale of its sheet."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from gisapp.render import maps


def test_a_printed_city_keeps_its_major_streets_and_a_district_all() -> None:
    xs = np.linspace(0, 1, 2)
    lines = [shapely.LineString(np.c_[xs * 0.01 + k * 0.01, xs * 0.01]) for k in range(4)]
    roads = gpd.GeoDataFrame(
        {"highway": ["primary", "residential", "secondary", "service"]}, geometry=lines, crs=4326
    )
    district = [0.0, 0.0, 0.04, 0.03]  # about 4 km: every street
    city = [0.0, 0.0, 0.5, 0.3]  # about 55 km: minor streets would be a grey mass
    assert len(maps.printable_roads(roads, district)) == 4
    assert maps.printable_roads(roads, city)["highway"].tolist() == ["primary", "secondary"]
    unclassed = roads.drop(columns="highway")
    assert len(maps.printable_roads(unclassed, city)) == 4
