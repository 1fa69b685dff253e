"""Summaries of a workspace: layer counts, CRS, extent, date range, categories."""

from __future__ import annotations

import unicodedata
from typing import Any

import geopandas as gpd
import pandas as pd

from gisapp.outputs.words import category_group_name
from gisapp.store.geopackage import Workspace
from layers.i18n import _, format_number, is_chinese


def workspace_summary(workspace: Workspace) -> dict[str, Any]:
    """Describe a workspace for ``gisapp info`` and the web overview.

    Returns
    -------
    dict
        ``name``, ``path``, ``timezone``, ``layers`` (name → count, geometry type, CRS,
        bbox in lon/lat, provenance note), ``incidents`` (count, first and last time,
        counts per group) when the workspace has incidents.
    """
    notes = workspace.layer_notes
    layers: dict[str, Any] = {}
    incidents: gpd.GeoDataFrame | None = None
    for name in workspace.layer_names():
        frame = workspace.layer(name)
        entry: dict[str, Any] = {"count": len(frame), "note": notes.get(name, "")}
        if isinstance(frame, gpd.GeoDataFrame) and len(frame):
            entry["geometry"] = sorted(set(frame.geom_type.dropna()))
            entry["crs"] = frame.crs.to_string() if frame.crs else None
            entry["bbox"] = [round(float(v), 6) for v in frame.total_bounds]
        layers[name] = entry
        if name == "incidents":
            incidents = frame
    summary: dict[str, Any] = {
        "name": workspace.name,
        "path": workspace.location,
        "timezone": workspace.timezone,
        "description": workspace.meta.get("description", ""),
        "layers": layers,
    }
    if incidents is not None and len(incidents):
        times = incidents["occurred_at"]
        info: dict[str, Any] = {
            "count": len(incidents),
            "first": times.min().isoformat() if times.notna().any() else None,
            "last": times.max().isoformat() if times.notna().any() else None,
        }
        for column in ("group", "category"):
            if column in incidents.columns:
                counts = incidents[column].value_counts()
                info[f"by_{column}"] = {str(k): int(v) for k, v in counts.head(15).items()}
        if "preventable" in incidents.columns:
            info["preventable"] = int(
                pd.Series(incidents["preventable"]).fillna(False).astype(bool).sum()
            )
        summary["incidents"] = info
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable text of :func:`workspace_summary`."""
    lines = [
        _("Workspace %(name)s (%(path)s)", name=summary["name"], path=summary["path"]),
        "  " + _("time zone: %(timezone)s", timezone=summary["timezone"]),
    ]
    if summary.get("description"):
        lines.append(f"  {summary['description']}")
    lines.append("  " + _("layers:"))
    for name, entry in summary["layers"].items():
        extra = ""
        if "bbox" in entry:
            minx, miny, maxx, maxy = entry["bbox"]
            extra = f"  {entry['crs']}  bbox ({minx:.4f}, {miny:.4f}, {maxx:.4f}, {maxy:.4f})"
        note = f"  [{entry['note'].split(':')[0]}]" if entry.get("note") else ""
        lines.append(f"    {name:<18}{entry['count']:>8,}{extra}{note}")
    incidents = summary.get("incidents")
    if incidents:
        lines.append(
            "  "
            + _(
                "incidents: %(count)s from %(first)s to %(last)s",
                count=format_number(incidents["count"]),
                first=incidents["first"],
                last=incidents["last"],
            )
        )
        if "preventable" in incidents:
            lines.append(
                "    " + _("preventable: %(count)s", count=format_number(incidents["preventable"]))
            )
        for group, count in incidents.get("by_group", {}).items():
            name = _group_text(group)
            lines.append(f"    {name}{' ' * max(1, 20 - _columns(name))}{count:>6,}")
    return "\n".join(lines)


def _columns(text: str) -> int:
    """How many terminal columns ``text`` takes (a Chinese character takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _group_text(group: str) -> str:
    """A category group as listed: its code (what ``--groups`` takes), after its name in
    a language other than English (``服务（service）``)."""
    if not is_chinese():
        return group
    return f"{category_group_name(group)}（{group}）"
