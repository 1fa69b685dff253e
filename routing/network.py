"""Street networks for routing: built from any line layer or an OSM extract.

A :class:`StreetNetwork` holds compact arrays in a local metric CRS: node coordinates, the
street *segments* (the physical pieces of street between two nodes, with their geometry)
and the directed *edges* over them (one per allowed direction of a segment), plus a
``scipy.sparse`` travel-time matrix for the heavy work. ``to_networkx`` gives an
OSMnx-compatible graph where convenience matters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_array, csr_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from layers.crs import metric_crs
from layers.i18n import _, format_km, format_number
from routing._speeds import (
    DEFAULT_HIGHWAY,
    MODES,
    MTFCC_HIGHWAY,
    mode_name,
    mode_speed_kph,
    parse_maxspeed_kph,
    parse_oneway,
    road_class,
)
from routing.errors import NetworkError

if TYPE_CHECKING:
    from os import PathLike

    import networkx as nx

logger = logging.getLogger(__name__)

_LINE_TYPES = ("LineString", "MultiLineString")
#: Smallest travel time of an edge: sparse graph routines treat stored zeros as no edge.
MIN_TRAVEL_TIME_S = 1e-6

_T = TypeVar("_T")


class _OnFirstUse(Generic[_T]):
    """A field of :class:`StreetNetwork` given as its value, or as a function with no
    argument that returns it on first use (a stored network decodes its geometries only
    when a command asks for them).

    With ``derive``, the field may be left out: it is then computed from the network on
    first use.
    """

    def __init__(self, derive: Callable[[StreetNetwork], _T] | None = None) -> None:
        self._derive = derive
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, network: None, owner: type | None = None) -> _OnFirstUse[_T]: ...

    @overload
    def __get__(self, network: StreetNetwork, owner: type | None = None) -> _T: ...

    def __get__(self, network: StreetNetwork | None, owner: type | None = None) -> Any:
        if network is None:
            if self._derive is None:
                raise AttributeError(self._name)  # a required field for the dataclass
            return None  # the default: derived on first use
        value = network.__dict__[self._name]
        if value is None and self._derive is not None:
            value = network.__dict__[self._name] = self._derive(network)
        elif callable(value):
            value = network.__dict__[self._name] = value()
        return value

    def __set__(self, network: StreetNetwork, value: _T | Callable[[], _T] | None) -> None:
        if value is None and self._derive is None:
            raise TypeError(f"'{self._name}' of a StreetNetwork cannot be None")
        # the dataclass is frozen: only its __init__ gets here
        network.__dict__[self._name] = value


def fastest_edges(
    edge_u: NDArray[np.int64], edge_v: NDArray[np.int64], edge_travel_time_s: NDArray[np.float64]
) -> NDArray[np.int64]:
    """The fastest edge of every node pair, ordered by start node, then end node.

    Parallel edges keep the quickest (the first of equally quick ones).
    """
    order = np.lexsort((edge_travel_time_s, edge_v, edge_u))
    u, v = edge_u[order], edge_v[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    return np.asarray(order[first], dtype=np.int64)


def _fastest_edges_of(network: StreetNetwork) -> NDArray[np.int64]:
    return fastest_edges(network.edge_u, network.edge_v, network.edge_travel_time_s)


@dataclass(frozen=True)
class NetworkReport:
    """What a network build kept and dropped.

    Parameters
    ----------
    input_lines
        Line features given (before splitting multi-part lines).
    excluded_lines
        Lines the mode may not use (e.g. footways for cars), by road class.
    skipped_geometries
        Features with a missing or empty geometry.
    segments, nodes, components
        Segments and nodes after noding, and the number of strongly connected components.
    collapsed_segments
        Pieces shorter than the node tolerance whose ends merged into one node (dropped).
    kept_nodes, kept_segments, kept_length_km
        What the largest strongly connected component holds.
    dropped_nodes, dropped_segments, dropped_length_km
        What lies outside it and was dropped.
    """

    mode: str
    input_lines: int
    excluded_lines: dict[str, int]
    skipped_geometries: int
    segments: int
    collapsed_segments: int
    nodes: int
    components: int
    kept_nodes: int
    kept_segments: int
    kept_length_km: float
    dropped_nodes: int
    dropped_segments: int
    dropped_length_km: float

    @property
    def kept_length_share(self) -> float:
        """Share of the street length that the kept component holds (0..1)."""
        total = self.kept_length_km + self.dropped_length_km
        return self.kept_length_km / total if total else 0.0

    def summary(self) -> str:
        """A few plain lines for a log or a terminal."""
        excluded = sum(self.excluded_lines.values())
        n = format_number
        lines = [
            _(
                "%(mode)s network from %(lines)s lines: %(segments)s segments, %(nodes)s nodes, "
                "%(components)s strongly connected component(s)",
                mode=mode_name(self.mode),
                lines=n(self.input_lines),
                segments=n(self.segments),
                nodes=n(self.nodes),
                components=n(self.components),
            ),
            _(
                "kept the largest: %(nodes)s nodes, %(segments)s segments, %(length)s "
                "(%(share)s%% of the length)",
                nodes=n(self.kept_nodes),
                segments=n(self.kept_segments),
                length=format_km(self.kept_length_km),
                share=n(100 * self.kept_length_share, 1),
            ),
            _(
                "dropped: %(nodes)s nodes, %(segments)s segments, %(length)s",
                nodes=n(self.dropped_nodes),
                segments=n(self.dropped_segments),
                length=format_km(self.dropped_length_km),
            ),
        ]
        if excluded:
            classes = ", ".join(f"{k} {n(v)}" for k, v in sorted(self.excluded_lines.items()))
            lines.append(
                _(
                    "not usable by %(mode)s: %(n)s lines (%(classes)s)",
                    mode=mode_name(self.mode),
                    n=n(excluded),
                    classes=classes,
                )
            )
        if self.collapsed_segments:
            lines.append(
                _(
                    "collapsed %(n)s pieces shorter than the node tolerance",
                    n=n(self.collapsed_segments),
                )
            )
        if self.skipped_geometries:
            lines.append(_("skipped %(n)s features with no geometry", n=n(self.skipped_geometries)))
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class StreetNetwork:
    """A directed street network in a local metric CRS.

    Nodes, segments and edges are numbered from 0. Every edge runs along one segment,
    forward (as the segment is drawn) or backward.

    Parameters
    ----------
    crs
        The metric CRS of every coordinate and geometry.
    mode
        ``"car"``, ``"ebike"`` or ``"foot"``.
    node_x, node_y
        Node coordinates in metres.
    segment_u, segment_v
        End nodes of every segment.
    segment_length_m
        Segment length in metres.
    segment_name, segment_highway
        Street name (``None`` when unknown) and road class of every segment.
    segment_source
        Position of the input feature each segment comes from.
    edge_u, edge_v
        Start and end node of every directed edge.
    edge_segment
        Segment of every edge.
    edge_forward
        Whether the edge runs in the drawing direction of its segment.
    edge_length_m, edge_travel_time_s, edge_speed_kph
        Length, travel time and speed of every edge.
    report
        What the build kept and dropped.
    segment_geometry
        LineString of every segment, drawn from ``segment_u`` to ``segment_v``; or a
        function with no argument returning them, called once, on first use.
    fastest_edge
        The fastest edge of every node pair (:func:`fastest_edges`), as a stored network
        holds it; derived from the edges on first use when left out.
    """

    crs: pyproj.CRS
    mode: str
    node_x: NDArray[np.float64]
    node_y: NDArray[np.float64]
    segment_u: NDArray[np.int64]
    segment_v: NDArray[np.int64]
    segment_length_m: NDArray[np.float64]
    segment_name: NDArray[np.object_]
    segment_highway: NDArray[np.object_]
    segment_source: NDArray[np.int64]
    edge_u: NDArray[np.int64]
    edge_v: NDArray[np.int64]
    edge_segment: NDArray[np.int64]
    edge_forward: NDArray[np.bool_]
    edge_length_m: NDArray[np.float64]
    edge_travel_time_s: NDArray[np.float64]
    edge_speed_kph: NDArray[np.float64]
    report: NetworkReport = field(repr=False)
    _: KW_ONLY
    segment_geometry: _OnFirstUse[NDArray[np.object_]] = _OnFirstUse()
    fastest_edge: _OnFirstUse[NDArray[np.int64]] = _OnFirstUse(derive=_fastest_edges_of)

    @property
    def n_nodes(self) -> int:
        return len(self.node_x)

    @property
    def n_segments(self) -> int:
        return len(self.segment_u)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    @property
    def length_km(self) -> float:
        """Total street length in kilometres (each segment once)."""
        return float(self.segment_length_m.sum()) / 1000.0

    @property
    def edge_name(self) -> NDArray[np.object_]:
        return self.segment_name[self.edge_segment]

    @cached_property
    def _fastest_pairs(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``indptr`` and ``indices`` of the node-by-node matrices of :attr:`fastest_edge`."""
        edge = self.fastest_edge
        indptr = np.zeros(self.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.edge_u[edge], minlength=self.n_nodes), out=indptr[1:])
        return indptr, self.edge_v[edge]

    @cached_property
    def travel_time_csr(self) -> csr_array:
        """Node-by-node travel times in seconds (the fastest of parallel edges)."""
        indptr, indices = self._fastest_pairs
        time_s = np.maximum(self.edge_travel_time_s[self.fastest_edge], MIN_TRAVEL_TIME_S)
        return _sorted_csr(time_s, indices, indptr, self.n_nodes)

    @cached_property
    def edge_id_csr(self) -> csr_array:
        """Node-by-node matrix holding ``edge + 1`` of the fastest edge between them."""
        indptr, indices = self._fastest_pairs
        return _sorted_csr(self.fastest_edge + 1, indices, indptr, self.n_nodes)

    @cached_property
    def segment_tree(self) -> shapely.STRtree:
        """Spatial index over the segment geometries."""
        return shapely.STRtree(self.segment_geometry)

    @cached_property
    def node_tree(self) -> cKDTree:
        """k-d tree over the node coordinates."""
        return cKDTree(np.column_stack([self.node_x, self.node_y]))

    def nodes_gdf(self, *, crs: Any = None) -> gpd.GeoDataFrame:
        """Nodes as points with ``x``, ``y`` (metres) and their degree, in ``crs`` if given."""
        degree = np.bincount(self.edge_u, minlength=self.n_nodes) + np.bincount(
            self.edge_v, minlength=self.n_nodes
        )
        gdf = gpd.GeoDataFrame(
            {"x": self.node_x, "y": self.node_y, "degree": degree},
            geometry=shapely.points(self.node_x, self.node_y),
            crs=self.crs,
        )
        gdf.index.name = "node"
        return gdf if crs is None else gdf.to_crs(crs)

    def segments_gdf(self, *, crs: Any = None) -> gpd.GeoDataFrame:
        """Segments as lines with ``u``, ``v``, ``length_m``, ``name``, ``highway``."""
        gdf = gpd.GeoDataFrame(
            {
                "u": self.segment_u,
                "v": self.segment_v,
                "length_m": self.segment_length_m,
                "name": self.segment_name,
                "highway": self.segment_highway,
                "source": self.segment_source,
            },
            geometry=self.segment_geometry,
            crs=self.crs,
        )
        gdf.index.name = "segment"
        return gdf if crs is None else gdf.to_crs(crs)

    def edges_gdf(self, *, crs: Any = None) -> gpd.GeoDataFrame:
        """Directed edges as lines drawn from ``u`` to ``v``, with lengths and times (in
        ``crs``, the network's by default)."""
        # each segment projected once, though two edges may run along it
        lines = gpd.GeoSeries(self.segment_geometry, crs=self.crs)
        lines = (lines if crs is None else lines.to_crs(crs)).to_numpy()
        geometry = lines[self.edge_segment]
        backward = ~self.edge_forward
        geometry[backward] = shapely.reverse(geometry[backward])
        gdf = gpd.GeoDataFrame(
            {
                "u": self.edge_u,
                "v": self.edge_v,
                "segment": self.edge_segment,
                "forward": self.edge_forward,
                "length_m": self.edge_length_m,
                "travel_time_s": self.edge_travel_time_s,
                "speed_kph": self.edge_speed_kph,
                "name": self.edge_name,
                "highway": self.segment_highway[self.edge_segment],
            },
            geometry=geometry,
            crs=self.crs if crs is None else crs,
        )
        gdf.index.name = "edge"
        return gdf

    def to_networkx(self, *, geometry: bool = False) -> nx.MultiDiGraph:
        """The network as an OSMnx-style ``MultiDiGraph``.

        Nodes carry ``x`` and ``y`` (metres, in ``graph["crs"]``); edges carry ``length``
        (m), ``travel_time`` (s), ``speed_kph``, ``name``, ``highway``, ``segment`` and, with
        ``geometry=True``, their LineString.
        """
        import networkx as nx  # for this export alone: every command would pay its import

        graph = nx.MultiDiGraph(crs=self.crs, mode=self.mode)
        graph.add_nodes_from(
            (i, {"x": float(x), "y": float(y)})
            for i, (x, y) in enumerate(zip(self.node_x, self.node_y, strict=True))
        )
        edges = self.edges_gdf() if geometry else None
        for i in range(self.n_edges):
            data: dict[str, Any] = {
                "length": float(self.edge_length_m[i]),
                "travel_time": float(self.edge_travel_time_s[i]),
                "speed_kph": float(self.edge_speed_kph[i]),
                "name": self.segment_name[self.edge_segment[i]],
                "highway": self.segment_highway[self.edge_segment[i]],
                "segment": int(self.edge_segment[i]),
            }
            if edges is not None:
                data["geometry"] = edges.geometry.iat[i]
            graph.add_edge(int(self.edge_u[i]), int(self.edge_v[i]), **data)
        return graph


def _sorted_csr(
    data: NDArray[Any], indices: NDArray[np.int64], indptr: NDArray[np.int64], n: int
) -> csr_array:
    """An ``n`` by ``n`` CSR matrix of distinct entries, sorted within every row."""
    matrix = csr_array((data, indices, indptr), shape=(n, n))
    # the entries are distinct and in order: spare scipy from checking it
    matrix.has_sorted_indices = True
    matrix.has_canonical_format = True
    return matrix


def _metric_lines(roads: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    if crs is not None:
        target = pyproj.CRS.from_user_input(crs)
    elif roads.crs.is_geographic:
        target = metric_crs(roads)
    else:
        target = roads.crs
    if not target.is_projected:
        raise NetworkError(
            _(
                "'crs' should be a projected CRS in metres, got %(crs)r; pass a local UTM CRS or "
                "leave it out to use the layer's own UTM zone",
                crs=target.name,
            )
        )
    return roads if roads.crs == target else roads.to_crs(target)


def _check_roads(roads: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    if not isinstance(roads, gpd.GeoDataFrame):
        raise NetworkError(f"'roads' should be a GeoDataFrame, got {type(roads).__name__}")
    if roads.crs is None:
        raise NetworkError(
            _("'roads' has no CRS; set it with roads.set_crs(...) (EPSG:4326 for lon/lat)")
        )
    if len(roads) == 0:
        raise NetworkError(_("'roads' is empty: import a roads layer with street lines first"))
    missing = roads.geometry.isna() | roads.geometry.is_empty
    present = roads[~missing.to_numpy()]
    kinds = present.geom_type
    bad = ~kinds.isin(_LINE_TYPES)
    if bad.any():
        counts = kinds[bad].value_counts()
        found = ", ".join(f"{format_number(n)} {kind}" for kind, n in counts.items())
        first = present.index[bad.to_numpy()][:5].tolist()
        raise NetworkError(
            _(
                "'roads' should hold LineString or MultiLineString geometries, got %(found)s "
                "(rows %(rows)s...); keep only the street centre lines",
                found=found,
                rows=first,
            )
        )
    if len(present) == 0:
        raise NetworkError(
            _(
                "'roads' has %(n)s features but none has a geometry; re-import the roads layer",
                n=format_number(len(roads)),
            )
        )
    return present, int(missing.sum())


def _column(roads: gpd.GeoDataFrame, *names: str | None) -> pd.Series | None:
    for name in names:
        if name is not None and name in roads.columns:
            return roads[name]
    return None


def _node_lines(lines: NDArray[np.object_]) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    """Split lines at every crossing; return the pieces and the line each comes from.

    Pieces are oriented like their parent line so that one-way flags keep their meaning.
    """
    pieces = shapely.get_parts(shapely.node(shapely.multilinestrings(lines)))
    pieces = pieces[shapely.length(pieces) > 0]
    # a piece's midpoint lies on its parent line and, crossings aside, on no other
    midpoints = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    piece_idx, parent = shapely.STRtree(lines).query_nearest(midpoints, all_matches=False)
    pieces = pieces[piece_idx]
    # interior points, because the ends of closed parents locate ambiguously
    near_start = shapely.line_interpolate_point(pieces, 0.25, normalized=True)
    near_end = shapely.line_interpolate_point(pieces, 0.75, normalized=True)
    backwards = shapely.line_locate_point(lines[parent], near_start) > shapely.line_locate_point(
        lines[parent], near_end
    )
    pieces = np.where(backwards, shapely.reverse(pieces), pieces)
    return pieces, parent.astype(np.int64)


def _merge_endpoints(
    pieces: NDArray[np.object_], tolerance_m: float
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Number the piece ends, merging ends closer than ``tolerance_m`` into one node."""
    n = len(pieces)
    ends = np.concatenate(
        [
            shapely.get_coordinates(shapely.get_point(pieces, 0)),
            shapely.get_coordinates(shapely.get_point(pieces, -1)),
        ]
    )
    unique, inverse = np.unique(ends, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    label = np.arange(len(unique))
    if tolerance_m > 0:
        pairs = cKDTree(unique).query_pairs(tolerance_m, output_type="ndarray")
        if len(pairs):
            graph = coo_array(
                (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                shape=(len(unique), len(unique)),
            )
            _count, label = connected_components(graph, directed=False)
    n_nodes = int(label.max()) + 1
    counts = np.bincount(label, minlength=n_nodes)
    xy = np.column_stack(
        [
            np.bincount(label, weights=unique[:, 0], minlength=n_nodes) / counts,
            np.bincount(label, weights=unique[:, 1], minlength=n_nodes) / counts,
        ]
    )
    node = label[inverse]
    return node[:n].astype(np.int64), node[n:].astype(np.int64), xy


def network_from_lines(
    roads: gpd.GeoDataFrame,
    *,
    mode: str = "car",
    node_tolerance_m: float = 0.5,
    node_lines: bool = True,
    largest_component: bool = True,
    speed_kph: Mapping[str, float] | None = None,
    highway_column: str | None = None,
    name_column: str | None = None,
    crs: Any = None,
) -> StreetNetwork:
    """Build a street network from a line layer.

    Lines are split wherever they cross (TIGER-like data is not noded at intersections);
    line ends closer than ``node_tolerance_m`` become one node. Note that crossings are
    taken as junctions: bridges over streets join them, since plain line layers carry no
    levels.

    Parameters
    ----------
    roads
        Street centre lines (LineString or MultiLineString) in any CRS. Understood columns:
        ``highway`` (road class; TIGER ``MTFCC`` codes are mapped, lines with no class
        count as ``residential``), ``oneway`` (bool, or ``yes``/``-1``...),
        ``maxspeed_kph`` or ``maxspeed`` (numbers or ``"30 mph"``), ``name`` or ``FULLNAME``,
        ``car`` and ``foot`` (bool or yes/no: whether cars and e-bikes, and walkers, may use
        the line, as ``layers.osm.read_osm_roads`` writes them; blank lets the class decide).
    mode
        ``"car"``, ``"ebike"`` or ``"foot"``: picks the speed table, the usable classes
        and the access column (:data:`MODE_ACCESS_COLUMN`); walkers ignore one-way streets.
    node_tolerance_m
        Line ends within this distance are merged into one node.
    node_lines
        Split lines at crossings with ``shapely.node``. Pass ``False`` to trust input that
        is already noded (e.g. OSMnx node-to-node segments): much faster.
    largest_component
        Keep only the largest strongly connected component (the rest is reported).
    speed_kph
        Speeds by road class that replace the defaults of ``mode``.
    highway_column, name_column
        Columns to read the road class and the street name from, when not the usual ones.
    crs
        Metric CRS to work in; by default the layer's UTM zone (or its own CRS when it is
        already projected).

    Returns
    -------
    StreetNetwork

    Raises
    ------
    NetworkError
        If ``roads`` is not a line layer with a CRS, is empty, or nothing in it is usable
        by ``mode``.
    """
    if mode not in MODES:
        raise NetworkError(
            _(
                "'mode' should be one of %(modes)s, got %(value)r",
                modes=", ".join(MODES),
                value=mode,
            )
        )
    if node_tolerance_m < 0:
        raise NetworkError(
            _("'node_tolerance_m' should be >= 0, got %(value)r", value=node_tolerance_m)
        )
    road = _road_lines(
        roads,
        crs=crs,
        mode=mode,
        highway_column=highway_column,
        name_column=name_column,
        speed_kph=speed_kph,
    )
    segments = _segments(road.lines, node_lines=node_lines, node_tolerance_m=node_tolerance_m)
    edges = _directed_edges(segments, road.oneway[segments.parent], largest_component)
    report = _network_report(road, segments, edges, mode=mode)
    return _kept_network(road, segments, edges, mode=mode, report=report)


@dataclass(frozen=True)
class _RoadLines:
    """The single-part lines of a road layer usable by a mode, with their attributes."""

    lines: NDArray[np.object_]
    source: NDArray[np.int64]  # row of each line in the input layer
    highway: NDArray[np.object_]
    speed_kph: NDArray[np.float64]
    oneway: NDArray[np.int8]
    names: NDArray[np.object_]
    crs: pyproj.CRS
    n_input: int
    excluded: dict[str, int]  # lines left out, by road class
    skipped: int


def _road_lines(
    roads: gpd.GeoDataFrame,
    *,
    crs: Any,
    mode: str,
    highway_column: str | None,
    name_column: str | None,
    speed_kph: Mapping[str, float] | None,
) -> _RoadLines:
    """Read and clean the road layer: checked, in a metric CRS, exploded into single
    non-empty lines, each with its class, speed, direction and name; lines the mode
    cannot use are left out."""
    present, skipped = _check_roads(roads)
    metric = _metric_lines(present, crs)
    n_input = len(metric)
    flat = metric.reset_index(drop=True)
    flat["_source"] = np.arange(len(flat))
    flat = flat.explode(index_parts=False, ignore_index=True)
    flat = flat[~flat.geometry.is_empty & (flat.geometry.length > 0)].reset_index(drop=True)

    if highway_column is not None and highway_column not in flat.columns:
        raise NetworkError(
            _(
                "'highway_column' %(column)r is not a column of 'roads'; columns are %(columns)s",
                column=highway_column,
                columns=", ".join(map(str, roads.columns)),
            )
        )
    highway_values = _column(flat, highway_column, "highway")
    if highway_values is not None:
        highway = road_class(highway_values)
    elif "MTFCC" in flat.columns:
        highway = np.array(
            [MTFCC_HIGHWAY.get(str(code), DEFAULT_HIGHWAY) for code in flat["MTFCC"]],
            dtype=object,
        )
    else:
        highway = np.full(len(flat), DEFAULT_HIGHWAY, dtype=object)
    maxspeed_values = _column(flat, "maxspeed_kph", "maxspeed")
    maxspeed = (
        parse_maxspeed_kph(maxspeed_values)
        if maxspeed_values is not None
        else np.full(len(flat), np.nan)
    )
    oneway_values = _column(flat, "oneway")
    oneway = (
        parse_oneway(oneway_values)
        if oneway_values is not None and mode != "foot"
        else np.zeros(len(flat), dtype=np.int8)
    )
    name_values = _column(flat, name_column, "name", "FULLNAME")
    names = (
        name_values.astype(object).where(name_values.notna(), None).to_numpy(dtype=object)
        if name_values is not None
        else np.full(len(flat), None, dtype=object)
    )
    speed = mode_speed_kph(highway, maxspeed, mode=mode, speed_kph=speed_kph)
    usable = ~np.isnan(speed) & (speed > 0) & _open_to_mode(flat, mode)
    excluded = dict(pd.Series(highway[~usable]).value_counts().astype(int).items())
    if not usable.any():
        raise NetworkError(
            _(
                "none of the %(n)s lines of 'roads' is usable by mode %(mode)r (classes: "
                "%(classes)s); pick another mode or pass 'speed_kph' for these classes",
                n=format_number(n_input),
                mode=mode,
                classes=", ".join(sorted(map(str, set(highway)))),
            )
        )
    return _RoadLines(
        lines=flat.geometry.to_numpy()[usable],
        source=flat["_source"].to_numpy()[usable],
        highway=highway[usable],
        speed_kph=speed[usable],
        oneway=oneway[usable],
        names=names[usable],
        crs=pyproj.CRS.from_user_input(metric.crs),
        n_input=n_input,
        excluded={str(k): int(v) for k, v in excluded.items()},
        skipped=skipped,
    )


#: Column of a road layer saying whether a mode may use a line (as ``layers.osm`` writes
#: it); e-bikes ride the streets open to cars.
MODE_ACCESS_COLUMN: dict[str, str] = {"car": "car", "ebike": "car", "foot": "foot"}

_YES_NO = {"yes": True, "true": True, "1": True, "y": True, "no": False, "false": False, "0": False}


def _open_to_mode(lines: pd.DataFrame, mode: str) -> NDArray[np.bool_]:
    """Whether each line is open to ``mode`` by its access column (``car`` or ``foot``);
    blank values, and layers without the column, leave the decision to the road class.
    Raises NetworkError if the column holds values that are not yes/no."""
    column = MODE_ACCESS_COLUMN[mode]
    if column not in lines.columns:
        return np.ones(len(lines), dtype=bool)
    values = lines[column]
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(True).to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(values):
        return (values.isna() | (values != 0)).to_numpy(dtype=bool)
    text = values.astype("string").str.strip().str.lower()
    known = text.isna() | text.isin(list(_YES_NO))
    if not known.all():
        bad = ", ".join(sorted(map(repr, text[~known].unique()[:5])))
        raise NetworkError(
            _(
                "the roads' %(column)r column should say yes or no for each street, got "
                "%(values)s; fix these values or remove the column",
                column=column,
                values=bad,
            )
        )
    return text.map(_YES_NO).fillna(True).to_numpy(dtype=bool)


@dataclass(frozen=True)
class _Segments:
    """Noded segments: geometry, the usable line each comes from, end nodes, length."""

    pieces: NDArray[np.object_]
    parent: NDArray[np.int64]
    u: NDArray[np.int64]
    v: NDArray[np.int64]
    node_xy: NDArray[np.float64]
    length_m: NDArray[np.float64]
    collapsed: int  # segments left out: collapsed onto one node


@dataclass(frozen=True)
class _Edges:
    """Directed edges of the segments and what the component filter keeps."""

    segment: NDArray[np.int64]
    forward: NDArray[np.bool_]
    u: NDArray[np.int64]
    v: NDArray[np.int64]
    n_components: int
    keep_node: NDArray[np.bool_]
    keep_edge: NDArray[np.bool_]
    keep_seg: NDArray[np.bool_]


def _segments(
    lines: NDArray[np.object_], *, node_lines: bool, node_tolerance_m: float
) -> _Segments:
    """Node the lines into segments joined at shared end nodes; segments that collapse
    onto one node are left out."""
    if node_lines:
        pieces, parent = _node_lines(lines)
        logger.info("noded %s lines into %s segments", f"{len(lines):,}", f"{len(pieces):,}")
    else:
        pieces, parent = lines, np.arange(len(lines))
    seg_u, seg_v, node_xy = _merge_endpoints(pieces, node_tolerance_m)
    seg_length_m = shapely.length(pieces)
    # pieces shorter than the tolerance collapse onto one node: no street left to travel
    keep = ~((seg_u == seg_v) & (seg_length_m <= 2 * node_tolerance_m))
    return _Segments(
        pieces[keep],
        parent[keep],
        seg_u[keep],
        seg_v[keep],
        node_xy,
        seg_length_m[keep],
        int((~keep).sum()),
    )


def _directed_edges(
    segments: _Segments, seg_oneway: NDArray[np.int8], largest_component: bool
) -> _Edges:
    """Every directed edge: forward edges of the segments open that way, then backward ones
    (``oneway`` 1: forward only, -1: backward only); and the nodes, edges and segments
    kept: those of the largest strongly connected component, or all."""
    forward = seg_oneway >= 0
    backward = seg_oneway <= 0
    seg_ids = np.arange(len(seg_oneway))
    edge_segment = np.concatenate([seg_ids[forward], seg_ids[backward]])
    edge_forward = np.concatenate([np.ones(forward.sum(), bool), np.zeros(backward.sum(), bool)])
    seg_u, seg_v = segments.u, segments.v
    edge_u = np.where(edge_forward, seg_u[edge_segment], seg_v[edge_segment])
    edge_v = np.where(edge_forward, seg_v[edge_segment], seg_u[edge_segment])
    n_nodes = len(segments.node_xy)
    graph = csr_array((np.ones(len(edge_u)), (edge_u, edge_v)), shape=(n_nodes, n_nodes))
    n_components, label = connected_components(graph, directed=True, connection="strong")
    if largest_component:
        keep_node = label == np.bincount(label).argmax()
    else:
        keep_node = np.ones(n_nodes, dtype=bool)
    keep_edge = keep_node[edge_u] & keep_node[edge_v]
    keep_seg = np.zeros(len(segments.pieces), dtype=bool)
    keep_seg[edge_segment[keep_edge]] = True
    return _Edges(
        edge_segment,
        edge_forward,
        edge_u,
        edge_v,
        int(n_components),
        keep_node,
        keep_edge,
        keep_seg,
    )


def _network_report(
    road: _RoadLines, segments: _Segments, edges: _Edges, *, mode: str
) -> NetworkReport:
    """What the build kept and dropped, logged line by line."""
    keep_node, keep_seg = edges.keep_node, edges.keep_seg
    total_km = float(segments.length_m.sum()) / 1000.0
    kept_km = float(segments.length_m[keep_seg].sum()) / 1000.0
    report = NetworkReport(
        mode=mode,
        input_lines=road.n_input,
        excluded_lines=road.excluded,
        skipped_geometries=road.skipped,
        segments=len(keep_seg),
        collapsed_segments=segments.collapsed,
        nodes=len(keep_node),
        components=edges.n_components,
        kept_nodes=int(keep_node.sum()),
        kept_segments=int(keep_seg.sum()),
        kept_length_km=kept_km,
        dropped_nodes=int(len(keep_node) - keep_node.sum()),
        dropped_segments=int(len(keep_seg) - keep_seg.sum()),
        dropped_length_km=total_km - kept_km,
    )
    for line in report.summary().splitlines():
        logger.info(line)
    return report


def _kept_network(
    road: _RoadLines, segments: _Segments, edges: _Edges, *, mode: str, report: NetworkReport
) -> StreetNetwork:
    """The network of the kept nodes, segments and edges, renumbered from 0."""
    keep_node, keep_seg, keep_edge = edges.keep_node, edges.keep_seg, edges.keep_edge
    parent = segments.parent
    seg_speed = road.speed_kph[parent]
    seg_time_s = segments.length_m / (seg_speed / 3.6)
    new_node = np.cumsum(keep_node) - 1
    new_seg = np.cumsum(keep_seg) - 1
    edge_segment = edges.segment[keep_edge]
    return StreetNetwork(
        crs=road.crs,
        mode=mode,
        node_x=segments.node_xy[keep_node, 0].copy(),
        node_y=segments.node_xy[keep_node, 1].copy(),
        segment_geometry=segments.pieces[keep_seg],
        segment_u=new_node[segments.u[keep_seg]],
        segment_v=new_node[segments.v[keep_seg]],
        segment_length_m=segments.length_m[keep_seg],
        segment_name=road.names[parent[keep_seg]],
        segment_highway=road.highway[parent[keep_seg]],
        segment_source=road.source[parent[keep_seg]].astype(np.int64),
        edge_u=new_node[edges.u[keep_edge]],
        edge_v=new_node[edges.v[keep_edge]],
        edge_segment=new_seg[edge_segment],
        edge_forward=edges.forward[keep_edge],
        edge_length_m=segments.length_m[edge_segment],
        edge_travel_time_s=seg_time_s[edge_segment],
        edge_speed_kph=seg_speed[edge_segment],
        report=report,
    )


def network_from_osm(
    path: str | PathLike[str],
    *,
    mode: str = "car",
    **kwargs: Any,
) -> StreetNetwork:
    """Build a street network from an OSM PBF or XML extract.

    Ways are read by ``layers.osm.read_osm_roads`` (drivable ways for cars and e-bikes,
    walkable ways on foot) and are noded at their shared OSM nodes.

    Parameters
    ----------
    path
        The ``.osm.pbf`` or ``.osm`` file.
    mode
        ``"car"``, ``"ebike"`` or ``"foot"``.
    **kwargs
        Passed on to :func:`network_from_lines` (``node_tolerance_m``, ``speed_kph``...).

    Raises
    ------
    NetworkError
        If the extract holds no way usable by ``mode``.
    """
    from layers.osm import read_osm_roads

    if mode not in MODES:
        raise NetworkError(
            _(
                "'mode' should be one of %(modes)s, got %(value)r",
                modes=", ".join(MODES),
                value=mode,
            )
        )
    roads = read_osm_roads(Path(path), mode="walk" if mode == "foot" else "drive")
    if len(roads) == 0:
        raise NetworkError(
            _("%(path)s holds no street usable by mode %(mode)r", path=path, mode=mode)
        )
    # OSM ways meet at shared nodes; crossing without a shared node means a bridge or tunnel
    kwargs.setdefault("node_lines", False)
    return network_from_lines(roads, mode=mode, **kwargs)
