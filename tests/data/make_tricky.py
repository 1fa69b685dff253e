"""Write the small tricky inputs of ``tests/data/tricky/`` (run from the repository root).

Every file is generated here from hand-written values, so the corpus can be rebuilt:

- ``grids_gbk.zip``: a GBK shapefile of 4 grids (网格) with Chinese values and Chinese field
  names that the DBF cuts to 10 bytes (所属社区编号 → 所属社区编, 网格负责民警 → 网格负责民),
  with a ``.cpg`` saying GBK; ``grids_gbk_nocpg.zip``: the same without the ``.cpg``.
- ``places_wgs84.csv``: 5 WGS84 points in Chinese cities (the truth);
  ``places_gcj02.csv`` / ``places_bd09.csv``: the same points put through the forward
  GCJ-02 and BD-09 transforms (``lng``/``lat`` and ``经度``/``纬度`` headers).
- ``communities_4490.geojson``: 2 communities in CGCS2000 (EPSG:4490), with the CRS named.
- ``incidents_gbk.csv``: GBK incidents with Chinese headers and ``2024年2月15日 21:48`` dates.
"""

from __future__ import annotations

import io
import json
import tempfile
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from shapely.geometry import box

from layers.crs import wgs84_to_bd09, wgs84_to_gcj02

HERE = Path(__file__).parent / "tricky"

PLACES = pd.DataFrame(
    {
        "name": ["北京东城", "上海黄浦", "武汉江汉", "广州越秀", "成都锦江"],
        "lon": [116.3975, 121.4903, 114.2705, 113.2644, 104.0817],
        "lat": [39.9087, 31.2378, 30.5853, 23.1291, 30.6570],
    }
)


def grids() -> gpd.GeoDataFrame:
    x0, y0, step = 114.26, 30.58, 0.004
    cells = [box(x0 + i * step, y0, x0 + (i + 1) * step, y0 + step) for i in range(4)]
    return gpd.GeoDataFrame(
        {
            "网格编号": ["WG01", "WG02", "WG03", "WG04"],
            "所属社区编号": ["SQ01", "SQ01", "SQ02", "SQ02"],
            "网格负责民警": ["张伟", "李娜", "王芳", "刘洋"],
            "联系电话": ["13800000001", "13800000002", "13800000003", "13800000004"],
        },
        geometry=cells,
        crs="EPSG:4326",
    )


def write_shapefile_zips() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / "grids.shp"
        # GDAL notes that it shortened the field names: that is the point of the file.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pyogrio.write_dataframe(grids(), shp, encoding="GBK")
        for name, skip in (("grids_gbk.zip", ()), ("grids_gbk_nocpg.zip", (".cpg",))):
            with zipfile.ZipFile(HERE / name, "w", zipfile.ZIP_DEFLATED) as archive:
                for part in sorted(Path(tmp).iterdir()):
                    if part.suffix not in skip:
                        archive.write(part, f"grids{part.suffix}")


def write_places() -> None:
    PLACES.to_csv(HERE / "places_wgs84.csv", index=False)
    gcj_lon, gcj_lat = wgs84_to_gcj02(PLACES["lon"], PLACES["lat"])
    gcj = pd.DataFrame({"name": PLACES["name"], "lng": gcj_lon.round(7), "lat": gcj_lat.round(7)})
    gcj.to_csv(HERE / "places_gcj02.csv", index=False)
    bd_lon, bd_lat = wgs84_to_bd09(PLACES["lon"], PLACES["lat"])
    bd = pd.DataFrame({"名称": PLACES["name"], "经度": bd_lon.round(7), "纬度": bd_lat.round(7)})
    bd.to_csv(HERE / "places_bd09.csv", index=False)


def write_communities_4490() -> None:
    features = [
        {
            "type": "Feature",
            "properties": {"社区编号": code, "社区名称": name, "街道编号": "JD01"},
            "geometry": box(
                114.26 + 0.008 * i, 30.58, 114.268 + 0.008 * i, 30.584
            ).__geo_interface__,
        }
        for i, (code, name) in enumerate([("SQ01", "花楼社区"), ("SQ02", "水塔社区")])
    ]
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}},
        "features": features,
    }
    text = json.dumps(collection, ensure_ascii=False, default=list)
    (HERE / "communities_4490.geojson").write_text(text, encoding="utf-8")


def write_incidents_gbk() -> None:
    rows = [
        ("JQ202402150001", "2024年2月15日 21:48", "盗窃", "江汉区花楼街12号", 114.2651, 30.5812),
        ("JQ202402150002", "2024年2月15日 23:05", "抢夺", "江汉区水塔街3号", 114.2702, 30.5820),
        ("JQ202402160001", "2024年2月16日 8:10", "诈骗", "江汉区民意街88号", 114.2733, 30.5834),
        (
            "JQ202402160002",
            "2024年2月16日 下午3:30",
            "入室盗窃",
            "江汉区前进街5号",
            114.2675,
            30.5807,
        ),
        ("JQ202402160003", "某日", "打架斗殴", "江汉区新华街", 114.2689, 30.5829),
    ]
    frame = pd.DataFrame(
        rows, columns=["警情编号", "发案时间", "案件类别", "发案地址", "经度", "纬度"]
    )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    (HERE / "incidents_gbk.csv").write_bytes(buffer.getvalue().encode("gbk"))


def main() -> None:
    HERE.mkdir(exist_ok=True)
    write_shapefile_zips()
    write_places()
    write_communities_4490()
    write_incidents_gbk()


if __name__ == "__main__":
    main()
