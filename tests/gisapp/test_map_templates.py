"""Text on a map page is text: template syntax in user data is never evaluated."""

from __future__ import annotations

import folium
import geopandas as gpd
import shapely

from gisapp.render import maps
from gisapp.render.figure import GeoJson, render_figure

#: Jinja code that, evaluated, prints a function's name and a repeated word.
TEMPLATE_CODE = "{{ lipsum.__name__ }}{% for i in range(3) %}zq{% endfor %}"
EVALUATED = ("generate_lorem_ipsum", "zqzqzq")


def _grids() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [TEMPLATE_CODE, "G2"], "officer": [TEMPLATE_CODE, "Li"]},
        geometry=[
            shapely.box(-72.93, 41.30, -72.92, 41.31),
            shapely.box(-72.92, 41.30, -72.91, 41.31),
        ],
        crs=4326,
    )


def test_template_code_in_layer_text_is_shown_not_run() -> None:
    grids = _grids()
    m = maps.base_map(grids.total_bounds, attribution=TEMPLATE_CODE)
    maps.add_polygons(
        m,
        grids,
        name=TEMPLATE_CODE,
        label_field="id",
        tooltip_fields={"id": "Grid", "officer": TEMPLATE_CODE},
        popup_fields={"officer": "Officer"},
    )
    maps.add_points(
        m,
        gpd.GeoDataFrame(
            {"id": ["i1"], "description": [TEMPLATE_CODE]},
            geometry=gpd.points_from_xy([-72.925], [41.305]),
            crs=4326,
        ),
        name="Incidents",
        popup_fields={"description": "Description"},
    )
    maps.add_legend(m, TEMPLATE_CODE, {TEMPLATE_CODE: "#ff0000"})
    page = maps.render_html(m)
    for evaluated in EVALUATED:
        assert evaluated not in page
    assert "lipsum.__name__" in page


def test_folium_elements_outside_ours_are_not_evaluated_either() -> None:
    m = folium.Map(tiles=None)
    folium.Marker([0, 0], popup=TEMPLATE_CODE, tooltip=TEMPLATE_CODE).add_to(m)
    GeoJson(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": TEMPLATE_CODE},
                    "geometry": {"type": "Point", "coordinates": [0, 0]},
                }
            ],
        },
        tooltip=folium.GeoJsonTooltip(["name"]),
    ).add_to(m)
    page = render_figure(m.get_root())
    for evaluated in EVALUATED:
        assert evaluated not in page
    assert page.count("lipsum.__name__") >= 3
