"""Field mapping: from a captain's column names to the workspace's field names.

A mapping always goes **ours → theirs**: ``{"occurred_at": "发案时间", "category": "案件类别"}``
reads "our ``occurred_at`` is their ``发案时间``". The same direction is used on the command
line (``occurred_at=发案时间,category=案件类别``), by :func:`suggest_mapping` and by
:func:`map_fields`.

Shapefile field names are cut to 10 bytes (5 Chinese characters in GBK, 3 in UTF-8), so a
mapping may name either the full original column (``网格负责民警``) or the cut one
(``网格负责民``); both find the column.

Besides a column, the theirs side may be

- a constant in quotes, the same for every feature: ``kind='police'`` (``'`` ``"`` or
  Chinese quotes);
- a date column and a time-of-day column joined by ``+``, for ``occurred_at`` only:
  ``occurred_at=发案日期+发案时段``. The time of day may read ``21``, ``21:48``, ``2148`` or
  ``21时48分`` (:func:`layers.incidents.normalize_clock`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np
import pandas as pd

from layers.errors import LayerError, Problem
from layers.i18n import _
from layers.incidents import normalize_clock, normalize_date, parse_timestamps
from layers.schema import LayerSpec, layer_spec

__all__ = [
    "FieldSource",
    "auto_filled_fields",
    "field_source",
    "find_column",
    "map_fields",
    "parse_field_mapping",
    "suggest_mapping",
]

logger = logging.getLogger(__name__)

FrameT = TypeVar("FrameT", bound=pd.DataFrame)

#: DBF field names hold at most this many bytes.
SHAPEFILE_FIELD_BYTES = 10

# Synonyms per field, most specific first; compared after _normalize. The layer-specific
# ones come first so that in ``grids`` "社区编号" means community_id, never id.
_ID_PREFIXES: dict[str, tuple[str, ...]] = {
    "subdistricts": ("街道",),
    "communities": ("社区", "村"),
    "grids": ("网格",),
    "prevention_zones": ("防控区", "区域"),
    "incidents": ("案件", "警情", "接警", "事件", "案事件"),
    "stations": ("派出所", "警务站", "站点"),
    "duty_points": ("执勤点", "岗亭", "卡点", "点位"),
    "key_places": ("场所", "单位", "重点场所"),
    "cameras": ("摄像头", "监控", "设备", "点位"),
    "units": ("巡逻单位", "警组", "车辆", "单位"),
}
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "编号", "编码", "代码", "code", "identifier", "no", "number"),
    "name": ("name", "名称", "名字", "姓名", "title"),
    "subdistrict_id": (
        "subdistrict",
        "street_id",
        "所属街道编号",
        "街道编号",
        "街道代码",
        "所属街道",
        "街道",
        "街道办",
    ),
    "community_id": (
        "community",
        "所属社区编号",
        "社区编号",
        "社区代码",
        "社区id",
        "所属社区",
        "社区",
        "村居",
    ),
    "households": ("户数", "住户数", "总户数", "户"),
    "population": ("pop", "人口", "人口数", "常住人口"),
    "property_managed": ("物业管理", "物业类型", "物业", "物业管理类型"),
    "officer": ("网格负责民警", "负责民警", "责任民警", "社区民警", "民警", "网格员", "负责人"),
    "team": ("中队", "警组", "责任队", "队"),
    "phone": ("tel", "telephone", "mobile", "联系电话", "电话", "手机", "联系方式"),
    "unit_id": ("unit", "巡逻单位", "巡逻单位编号", "单位编号"),
    "kind": ("type", "类型", "类别", "种类", "性质"),
    "required_minutes": ("要求到达分钟", "到达时间要求", "响应时间", "要求分钟"),
    "priority": ("优先级", "级别", "等级"),
    "occurred_at": (
        "datetime",
        "发案时间",
        "报警时间",
        "接警时间",
        "案发时间",
        "发生时间",
        "时间",
        "time",
        "date",
    ),
    "category": (
        "案件类别",
        "警情类别",
        "案件类型",
        "警情类型",
        "案由",
        "类别",
        "类型",
        "type",
        "dataset",
    ),
    "severity": ("严重程度", "等级", "级别"),
    "preventable": ("可防性", "是否可防", "可防"),
    "description": ("desc", "简要案情", "案情", "警情描述", "描述", "内容"),
    "address": ("addr", "发案地址", "案发地址", "发案地点", "地址", "地点"),
    "highway": ("class", "fclass", "道路等级", "道路类型", "等级"),
    "oneway": ("单行", "单向", "是否单行"),
    "maxspeed": ("speed", "限速", "最高限速"),
    "capacity": ("容量", "警力", "人数"),
    "fixed": ("固定", "是否固定"),
    "range_m": ("range", "监控范围", "范围", "距离"),
    "heading_deg": ("heading", "朝向", "方向", "方位角"),
    "fov_deg": ("fov", "视场角", "视角"),
    "mode": ("巡逻方式", "交通方式", "方式", "类型", "type"),
    "station_id": ("station", "所属派出所", "派出所编号", "派出所"),
    "grid_ids": ("grids", "负责网格", "责任网格", "网格"),
    "shift": ("班次", "班组"),
}
_ROAD_NAME_SYNONYMS = ("道路名称", "路名", "fullname", "街路巷名称")
_QUOTED = re.compile(r"^(?:'(.*)'|\"(.*)\"|‘(.*)’|“(.*)”)$", re.DOTALL)
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")
#: The field a date column and a time-of-day column may be combined into.
DATE_TIME_FIELD = "occurred_at"


@dataclass(frozen=True)
class FieldSource:
    """Where one of our fields comes from: a column, a constant, or a date and a time.

    Parameters
    ----------
    kind
        ``"column"``, ``"constant"`` or ``"date_time"``.
    columns
        The user's column (one) or the date and time-of-day columns (two); empty for a
        constant.
    value
        The constant's text.
    """

    kind: Literal["column", "constant", "date_time"]
    columns: tuple[str, ...] = ()
    value: str = ""


def auto_filled_fields(layer: str) -> tuple[str, ...]:
    """Required fields that the validator fills in when a layer lacks them.

    A point layer without an ``id`` field gets ids from its row order; incidents without
    an ``occurred_at`` field are kept without a time (both reported).

    Parameters
    ----------
    layer
        Workspace layer name.

    Returns
    -------
    tuple of str
        The fields, possibly none.
    """
    spec = layer_spec(layer)
    filled = ("id",) if "Point" in spec.geometry and "id" in spec.required else ()
    return filled + ((DATE_TIME_FIELD,) if layer == "incidents" else ())


def field_source(columns: Iterable[object], theirs: str) -> FieldSource | None:
    """Tell what the theirs side of a mapping item names among ``columns``.

    Parameters
    ----------
    columns
        The user's column names.
    theirs
        A quoted constant (``'police'``), a column name (matched as :func:`find_column`
        does) or two columns joined by ``+`` (a date and a time of day).

    Returns
    -------
    FieldSource or None
        None when a column it names is not among ``columns``.
    """
    quoted = _QUOTED.match(theirs.strip())
    if quoted:
        return FieldSource("constant", value=next(g for g in quoted.groups() if g is not None))
    names = [str(c) for c in columns]
    column = _find_column(names, theirs)
    if column is not None:
        return FieldSource("column", (column,))
    parts = [part.strip() for part in theirs.split("+")]
    if len(parts) == 2 and all(parts):
        found = [_find_column(names, part) for part in parts]
        if found[0] is not None and found[1] is not None:
            return FieldSource("date_time", (found[0], found[1]))
    return None


def _normalize(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(name)).casefold()


def _truncations(name: str) -> set[str]:
    """Return how ``name`` reads once cut to a DBF field name in GBK or UTF-8."""
    cut = set()
    for encoding in ("gb18030", "utf-8"):
        raw = name.encode(encoding, errors="ignore")
        if len(raw) > SHAPEFILE_FIELD_BYTES:
            cut.add(raw[:SHAPEFILE_FIELD_BYTES].decode(encoding, errors="ignore"))
    return {c for c in cut if c}


def _candidates(field: str, layer: str) -> list[str]:
    """Return the names a user might give our ``field`` of ``layer``, best first."""
    names = [field]
    if field == "id":
        for prefix in _ID_PREFIXES.get(layer, ()):
            names += [f"{prefix}编号", f"{prefix}编码", f"{prefix}代码", f"{prefix}id"]
    if field == "name":
        if layer == "roads":
            names += list(_ROAD_NAME_SYNONYMS)
        for prefix in _ID_PREFIXES.get(layer, ()):
            names += [f"{prefix}名称", f"{prefix}名"]
    names += list(_SYNONYMS.get(field, ()))
    return names


def _find_column(columns: Iterable[str], wanted: str) -> str | None:
    """Return the column the user meant by ``wanted``: exact, loose, or 10-byte cut."""
    columns = [str(c) for c in columns]
    if wanted in columns:
        return wanted
    loose = {_normalize(c): c for c in reversed(columns)}
    key = _normalize(wanted)
    if key in loose:
        return loose[key]
    for cut in _truncations(wanted):
        if _normalize(cut) in loose:
            return loose[_normalize(cut)]
    return None


def find_column(columns: Iterable[object], wanted: str) -> str | None:
    """Return the column the user meant by ``wanted``, as :func:`map_fields` finds it.

    Parameters
    ----------
    columns
        The user's column names.
    wanted
        A name from a mapping: exact, differing in case, spaces, ``_`` or ``-``, or the
        full name of a column a shapefile cut to 10 bytes.

    Returns
    -------
    str or None
        The matching column, or None when there is none.
    """
    return _find_column([str(c) for c in columns], wanted)


def suggest_mapping(columns: Iterable[str], layer: str) -> dict[str, str]:
    """Guess which of the user's columns hold the fields of ``layer``.

    Names are compared case-insensitively and without spaces, ``_`` or ``-``; common
    English and Chinese synonyms count (编号→id, 名称→name, 案件类别→category,
    发案时间/报警时间→occurred_at, 地址→address, 社区→community_id ...), so do their
    shapefile forms cut to 10 bytes. Each column is used at most once.

    Parameters
    ----------
    columns
        The user's column names (a geometry column is ignored).
    layer
        Workspace layer name, e.g. ``"incidents"``.

    Returns
    -------
    dict
        Mapping ours → theirs for every field with a guess, in the layer's field order.

    Raises
    ------
    LayerError
        If ``layer`` is not a workspace layer.
    """
    spec = layer_spec(layer)
    available = [str(c) for c in columns if str(c) != "geometry"]
    guesses: dict[str, str] = {}
    used: set[str] = set()
    # Exact names first, so a column already called "category" is never taken by a
    # synonym of another field.
    for field in spec.fields:
        column = _find_column(available, field)
        if column is not None:
            guesses[field] = column
            used.add(column)
    for field in spec.fields:
        if field in guesses:
            continue
        free = [c for c in available if c not in used]
        for candidate in _candidates(field, layer)[1:]:
            column = _find_column(free, candidate)
            if column is not None:
                guesses[field] = column
                used.add(column)
                break
    return {field: guesses[field] for field in spec.fields if field in guesses}


def parse_field_mapping(text: str, *, layer: str | None = None) -> dict[str, str]:
    """Parse a mapping written as ``"occurred_at=发案时间,category=案件类别"``.

    Items are separated by ``,`` ``，`` ``;`` or new lines; each reads ``ours=theirs``.

    Parameters
    ----------
    text
        The mapping text.
    layer
        When given, every key must be a field of this layer.

    Returns
    -------
    dict
        Mapping ours → theirs.

    Raises
    ------
    LayerError
        On an item without ``=``, an empty name, a field given twice, or (with ``layer``)
        a key that is not a field of the layer.
    """
    if not isinstance(text, str):
        raise LayerError(f"'text' should be a string like 'id=编号,name=名称', got {text!r}")
    mapping: dict[str, str] = {}
    for item in re.split(r"[,，;；\n]", text):
        item = item.strip()
        if not item:
            continue
        ours, sep, theirs = item.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not ours or not theirs:
            raise LayerError(
                _(
                    "field mapping item %(item)s should read 'our_field=their_column', "
                    "e.g. 'occurred_at=发案时间'",
                    item=repr(item),
                )
            )
        if ours in mapping:
            raise LayerError(
                _(
                    "field mapping names %(field)s twice (%(first)s and %(second)s); keep one",
                    field=repr(ours),
                    first=repr(mapping[ours]),
                    second=repr(theirs),
                )
            )
        mapping[ours] = theirs
    if layer is not None:
        _check_keys(mapping, layer_spec(layer))
    return mapping


def _check_keys(mapping: Mapping[str, str], spec: LayerSpec) -> None:
    unknown = [ours for ours in mapping if ours not in spec.fields]
    if unknown:
        raise LayerError(
            _(
                "'mapping' should map fields of layer %(layer)s (ours=theirs), got "
                "%(unknown)s; the fields are %(fields)s",
                layer=repr(spec.name),
                unknown=", ".join(map(repr, unknown)),
                fields=", ".join(spec.fields),
            )
        )


def _as_id_strings(values: pd.Series) -> pd.Series:
    """Return ids as strings, writing whole floats (``12.0`` from a DBF) as ``"12"``."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole == whole.round()).all():
            values = values.astype("Int64")
    out = values.astype("string")
    return out.str.strip()


def map_fields(
    frame: FrameT,
    mapping: Mapping[str, str],
    *,
    layer: str,
    problems: list[Problem] | None = None,
) -> FrameT:
    """Rename the user's columns to the fields of ``layer``; fill constants; join times.

    Parameters
    ----------
    frame
        Layer as read (GeoDataFrame, or DataFrame for the ``units`` table). Not modified.
    mapping
        **ours → theirs**, e.g. ``{"occurred_at": "发案时间"}``. Their names are matched
        exactly, then ignoring case and spaces, then as a shapefile cuts them to 10 bytes.
        Fields that already carry our name need no entry. A quoted value (``"'police'"``)
        is a constant for every feature; ``"发案日期+发案时段"`` joins a date column and a
        time-of-day column into ``occurred_at`` (see the module docstring).
    layer
        Workspace layer name (see ``layers.schema.LAYERS``).
    problems
        When given, what the mapping found in the data is appended to it: rows whose
        date and time do not make a readable time (``unreadable_date_time``) and rows
        with a date but no time of day (``date_without_time``), both warnings.

    Returns
    -------
    same type as ``frame``
        A copy with our fields first (in the layer's order), the user's other columns
        after, and ``id`` / ``*_id`` fields as strings.

    Raises
    ------
    LayerError
        If the layer is unknown, a key is not one of its fields, a named column does not
        exist, two columns are joined into a field other than ``occurred_at``, or a
        required field is still missing (other than those the validator fills in, see
        :func:`auto_filled_fields`); the message lists the columns that exist and a
        suggested mapping.
    """
    if not isinstance(frame, pd.DataFrame):
        raise LayerError(f"'frame' should be a DataFrame or GeoDataFrame, got {type(frame)}")
    spec = layer_spec(layer)
    _check_keys(mapping, spec)
    geometry_name = getattr(frame, "_geometry_column_name", None)
    columns = [str(c) for c in frame.columns if c != geometry_name]
    sources = _resolve_sources(mapping, columns, layer)
    resolved = {ours: src.columns[0] for ours, src in sources.items() if src.kind == "column"}

    missing = [
        f
        for f in spec.required
        if f not in sources and f not in columns and f not in auto_filled_fields(layer)
    ]
    if missing:
        guess = suggest_mapping([c for c in columns if c not in resolved.values()], layer)
        hint = ",".join(f"{k}={v}" for k, v in guess.items() if k in missing)
        params = {
            "layer": repr(layer),
            "fields": ", ".join(missing),
            "columns": ", ".join(columns) or _("(none)"),
            "hint": hint,
        }
        if hint:
            message = _(
                "layer %(layer)s needs field(s) %(fields)s that the input does not have; the "
                "columns are %(columns)s. Map them as our_field=their_column, e.g. %(hint)s",
                **params,
            )
        else:
            message = _(
                "layer %(layer)s needs field(s) %(fields)s that the input does not have; the "
                "columns are %(columns)s. Map them as our_field=their_column",
                **params,
            )
        raise LayerError(message)

    out = frame.copy()
    for ours, column in resolved.items():
        if ours != column and ours in out.columns and ours not in resolved.values():
            logger.warning("layer %s: column %r replaced by %r as mapped", layer, ours, column)
        out[ours] = frame[column]
    for ours, src in sources.items():
        if src.kind == "constant":
            out[ours] = _constant(src.value)
        elif src.kind == "date_time":
            out[ours] = _join_date_time(frame, src.columns, layer, problems)
    consumed = {c for c in resolved.values() if c not in spec.fields}
    ours_present = [f for f in spec.fields if f in out.columns]
    others = [
        c for c in out.columns if c not in ours_present and c not in consumed and c != geometry_name
    ]
    order = ours_present + others + ([geometry_name] if geometry_name else [])
    out = out[order]
    for field in ours_present:
        if field == "id" or field.endswith("_id"):
            out[field] = _as_id_strings(out[field])
    if sources:
        logger.info(
            "layer %s: mapped %s",
            layer,
            ", ".join(f"{k}<-{mapping[k]}" for k in sources if mapping[k] != k),
        )
    return out


def _resolve_sources(
    mapping: Mapping[str, str], columns: list[str], layer: str
) -> dict[str, FieldSource]:
    sources: dict[str, FieldSource] = {}
    not_found: list[str] = []
    for ours, theirs in mapping.items():
        src = field_source(columns, theirs)
        if src is None:
            not_found.append(f"{ours}={theirs}")
            continue
        if src.kind == "date_time" and ours != DATE_TIME_FIELD:
            raise LayerError(
                _(
                    "field mapping %(item)s joins two columns; only %(field)s can be made of "
                    "a date column and a time column, e.g. %(field)s=发案日期+发案时间",
                    item="=".join((ours, theirs)),
                    field=DATE_TIME_FIELD,
                )
            )
        sources[ours] = src
    if not_found:
        raise LayerError(
            _(
                "'mapping' names column(s) that layer %(layer)s input does not have: "
                "%(items)s; the columns are %(columns)s",
                layer=repr(layer),
                items=", ".join(not_found),
                columns=", ".join(columns) or _("(none)"),
            )
        )
    return sources


def _constant(text: str) -> str | int | float:
    """A constant as stored: numbers as numbers, anything else as the text given."""
    if _NUMBER.match(text):
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    return text


def _join_date_time(
    frame: pd.DataFrame, columns: tuple[str, ...], layer: str, problems: list[Problem] | None
) -> pd.Series:
    """``date time`` text per row, reporting the rows that do not make a readable time."""
    date_column, clock_column = columns
    dates = normalize_date(frame[date_column])
    clocks = normalize_clock(frame[clock_column])
    joined = dates.where(clocks.isna(), dates + " " + clocks)
    if problems is None:
        return joined.astype(object).where(joined.notna(), None)
    # The zone does not change whether a time can be read, only which instant it is.
    readable = parse_timestamps(joined, tz="UTC").notna().to_numpy()
    has_date = dates.notna().to_numpy()
    has_clock = clocks.notna().to_numpy()
    raw_dates = frame[date_column].to_numpy(dtype=object)
    raw_clocks = frame[clock_column].to_numpy(dtype=object)
    total = len(frame)
    unreadable = np.flatnonzero(~readable & (has_date | has_clock))
    if len(unreadable):
        row = int(unreadable[0])
        problems.append(
            Problem(
                layer,
                None,
                "unreadable_date_time",
                _(
                    "%(count)s of %(total)s rows (%(share)s): %(date)s + %(clock)s do not make "
                    "a readable date and time, e.g. row %(row)s: %(date_value)s + "
                    "%(clock_value)s; these are kept without a time",
                    count=format(len(unreadable), ","),
                    total=format(total, ","),
                    share=format(len(unreadable) / total, ".1%"),
                    date=repr(date_column),
                    clock=repr(clock_column),
                    row=row + 1,
                    date_value=repr(raw_dates[row]),
                    clock_value=repr(raw_clocks[row]),
                ),
                _(
                    "correct these dates or times in %(date)s and %(clock)s "
                    "(e.g. 2024年2月15日 + 21:48), or accept them without a time",
                    date=repr(date_column),
                    clock=repr(clock_column),
                ),
                "warning",
            )
        )
    dateonly = np.flatnonzero(readable & has_date & ~has_clock)
    if len(dateonly):
        row = int(dateonly[0])
        problems.append(
            Problem(
                layer,
                None,
                "date_without_time",
                _(
                    "%(count)s of %(total)s rows (%(share)s) have a date in %(date)s but no "
                    "time in %(clock)s, e.g. row %(row)s: %(date_value)s; they are read as "
                    "00:00 of that day",
                    count=format(len(dateonly), ","),
                    total=format(total, ","),
                    share=format(len(dateonly) / total, ".1%"),
                    date=repr(date_column),
                    clock=repr(clock_column),
                    row=row + 1,
                    date_value=repr(raw_dates[row]),
                ),
                _(
                    "fill in %(clock)s for these rows if the hour matters",
                    clock=repr(clock_column),
                ),
                "warning",
            )
        )
    return joined.astype(object).where(joined.notna(), None)
