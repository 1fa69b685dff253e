"""'gisapp import' writes straight into a database workspace, as into a GeoPackage."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gisapp.cli import cli
from gisapp.store import open_workspace


def _csv(path: Path) -> Path:
    path.write_text(
        "警情编号,案由,发案日期,发案时段,lon,lat\n"
        "A1,盗窃,2024年2月15日,21:48,114.30,30.59\n"
        "A2,诈骗,2024年2月16日,2148,114.31,30.60\n",
        encoding="utf-8",
    )
    return path


def test_import_creates_then_updates_a_database_workspace(postgis_url: str, tmp_path: Path) -> None:
    csv = _csv(tmp_path / "jq.csv")
    mapping = "incidents:id=警情编号,category=案由,occurred_at=发案日期+发案时段"
    args = ["import", f"incidents={csv}", "-w", postgis_url, "--map-fields", mapping]
    args += ["--timezone", "Asia/Shanghai"]
    first = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    ws = open_workspace(postgis_url)
    incidents = ws.layer("incidents")
    assert sorted(incidents["id"]) == ["A1", "A2"]
    assert incidents["occurred_at"].dt.tz is not None
    assert str(incidents.loc[incidents["id"] == "A1", "occurred_at"].iloc[0]).startswith(
        "2024-02-15 21:48"
    )
    # a second import keeps the first layer and adds the new one
    stations = tmp_path / "stations.csv"
    stations.write_text("id,name,kind,lon,lat\nS1,派出所,station,114.305,30.595\n", "utf-8")
    second = CliRunner().invoke(
        cli, ["import", f"stations={stations}", "-w", postgis_url], catch_exceptions=False
    )
    assert second.exit_code == 0, second.output
    ws = open_workspace(postgis_url)
    assert {"incidents", "stations"} <= set(ws.layer_names())
