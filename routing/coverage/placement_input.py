"""The network seam of placement: candidate sites, demand weights and the demand × candidate
travel-time matrix, and the placement models by name."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_array

from layers.i18n import _, format_number
from routing.coverage.segments import per_segment
from routing.errors import InfeasiblePlanError, RoutingError
from routing.network import StreetNetwork
from routing.placement import LSCP, MCLP, BackupCoverage, PCenter, PlacementModel, PMedian
from routing.reach import as_nodes, travel_time_matrix

logger = logging.getLogger(__name__)


#: Placement models by their command-line name.
PLACEMENT_MODELS: dict[str, type[PlacementModel]] = {
    "lscp": LSCP,
    "mclp": MCLP,
    "pmedian": PMedian,
    "pcenter": PCenter,
    "backup": BackupCoverage,
}


def node_degree(network: StreetNetwork) -> NDArray[np.int64]:
    """Number of distinct neighbouring nodes of every node (direction ignored)."""
    u = np.minimum(network.segment_u, network.segment_v)
    v = np.maximum(network.segment_u, network.segment_v)
    pairs = np.unique(np.column_stack([u, v])[u != v], axis=0)
    return np.bincount(pairs.reshape(-1), minlength=network.n_nodes).astype(np.int64)


def candidate_sites(
    network: StreetNetwork,
    *,
    min_degree: int = 3,
    spacing_m: float = 150.0,
    max_candidates: int = 400,
    seed: int = 0,
) -> pd.DataFrame:
    """Intersections as candidate duty-point sites, thinned to a manageable number.

    Nodes with at least ``min_degree`` neighbours are kept; of those in one square cell of
    ``spacing_m`` only the best-connected stays (ties: the lowest node), so candidates
    spread over the whole area; above ``max_candidates`` a seeded sample is kept.

    Returns
    -------
    DataFrame
        ``node``, ``id`` (``"node:<n>"``), ``kind`` (``"intersection"``), ``fixed`` (False).

    Raises
    ------
    RoutingError
        If an argument is out of range.
    """
    if min_degree < 1 or not spacing_m >= 0 or max_candidates < 1:
        raise RoutingError(
            _(
                "'min_degree' and 'max_candidates' should be >= 1 and 'spacing_m' >= 0, got "
                "%(degree)r, %(candidates)r and %(spacing)r",
                degree=min_degree,
                candidates=max_candidates,
                spacing=spacing_m,
            )
        )
    degree = node_degree(network)
    nodes = np.flatnonzero(degree >= min_degree)
    if spacing_m > 0 and len(nodes):
        cell_x = np.floor(network.node_x[nodes] / spacing_m).astype(np.int64)
        cell_y = np.floor(network.node_y[nodes] / spacing_m).astype(np.int64)
        order = np.lexsort((nodes, -degree[nodes], cell_y, cell_x))
        cells = np.column_stack([cell_x[order], cell_y[order]])
        first = np.ones(len(order), dtype=bool)
        first[1:] = np.any(cells[1:] != cells[:-1], axis=1)
        nodes = np.sort(nodes[order[first]])
    if len(nodes) > max_candidates:
        rng = np.random.default_rng(seed)
        nodes = np.sort(rng.choice(nodes, size=max_candidates, replace=False))
    logger.info("%s intersection candidates (degree >= %d)", f"{len(nodes):,}", min_degree)
    return pd.DataFrame(
        {
            "node": nodes.astype(np.int64),
            "id": [f"node:{n}" for n in nodes],
            "kind": "intersection",
            "fixed": False,
        }
    )


def node_weights(network: StreetNetwork, segment_weights: ArrayLike) -> NDArray[np.float64]:
    """Segment weights moved onto nodes: half of every segment's weight to each end."""
    weight = per_segment(segment_weights, network.n_segments, "segment_weights")
    half = weight / 2
    at_u = np.bincount(network.segment_u, weights=half, minlength=network.n_nodes)
    at_v = np.bincount(network.segment_v, weights=half, minlength=network.n_nodes)
    return np.asarray(at_u + at_v, dtype=np.float64)


@dataclass(frozen=True)
class PlacementInput:
    """A placement instance on a network: demand, candidates and travel times between them.

    Parameters
    ----------
    travel_time_s
        Sparse demand × candidate seconds from each candidate to each demand; only pairs
        within the cutoff (and the demand's own radius) are stored.
    weights
        Demand weights.
    demand_nodes, candidate_nodes
        Network nodes of the demand and candidates.
    demand_ids, candidate_ids
        Ids for messages and answers.
    candidate_kind
        ``intersection``, ``station``, ``duty_point``, ``key_place``...
    fixed
        Candidate indices always open (stations, existing duty points).
    cutoff_s
        The cutoff of the matrix.
    """

    travel_time_s: csr_array
    weights: NDArray[np.float64]
    demand_nodes: NDArray[np.int64]
    candidate_nodes: NDArray[np.int64]
    demand_ids: tuple[Any, ...]
    candidate_ids: tuple[Any, ...]
    candidate_kind: tuple[str, ...]
    fixed: NDArray[np.int64]
    cutoff_s: float | None

    def build(
        self,
        model: str,
        *,
        p: int | None = None,
        radius_s: float | None = None,
        capacities: ArrayLike | None = None,
        require_full_coverage: bool = False,
    ) -> PlacementModel:
        """Build a placement model of :mod:`routing.placement` over this instance.

        Parameters
        ----------
        model
            ``lscp``, ``mclp``, ``pmedian``, ``pcenter`` or ``backup``.
        p
            Duty points to open, fixed ones included (not for ``lscp``).
        radius_s
            Service radius (``lscp``, ``mclp``, ``backup``; optional for the others).
        capacities
            Per-candidate capacity (``pmedian`` only).
        require_full_coverage
            ``backup`` only: every demand covered at least once.

        Raises
        ------
        RoutingError
            On an unknown model or a parameter the model does not take.
        InfeasiblePlanError
            From the model (p above the candidates, unreachable demand...).
        """
        key = model.lower()
        if key not in PLACEMENT_MODELS:
            raise RoutingError(
                _(
                    "'model' should be one of %(models)s, got %(value)r",
                    models=", ".join(PLACEMENT_MODELS),
                    value=model,
                )
            )
        if key != "lscp" and p is None:
            raise RoutingError(
                _("'p' is required for model %(model)r: the number of duty points", model=key)
            )
        if key in ("lscp", "mclp", "backup") and radius_s is None:
            raise RoutingError(
                _("'radius_s' is required for model %(model)r: the service radius", model=key)
            )
        if capacities is not None and key != "pmedian":
            raise RoutingError(_("'capacities' applies to the pmedian model only"))
        if p is not None and p > len(self.candidate_ids):
            raise InfeasiblePlanError(
                _(
                    "'p' is %(p)s but there are only %(n)s candidate sites (intersections, "
                    "stations, duty points, key places); lower p or add candidates",
                    p=p,
                    n=format_number(len(self.candidate_ids)),
                )
            )
        common: dict[str, Any] = {
            "weights": self.weights,
            "fixed": self.fixed,
            "demand_ids": self.demand_ids,
            "candidate_ids": self.candidate_ids,
        }
        matrix = self.travel_time_s
        if key == "lscp":
            return LSCP.from_cost_matrix(matrix, radius_s=float(radius_s or 0), **common)
        if key == "mclp":
            return MCLP.from_cost_matrix(
                matrix, radius_s=float(radius_s or 0), p=int(p or 0), **common
            )
        if key == "backup":
            return BackupCoverage.from_cost_matrix(
                matrix,
                radius_s=float(radius_s or 0),
                p=int(p or 0),
                require_full_coverage=require_full_coverage,
                **common,
            )
        if key == "pmedian":
            return PMedian.from_cost_matrix(
                matrix, p=int(p or 0), radius_s=radius_s, capacities=capacities, **common
            )
        return PCenter.from_cost_matrix(matrix, p=int(p or 0), radius_s=radius_s, **common)


def placement_input(
    network: StreetNetwork,
    *,
    demand_nodes: ArrayLike,
    candidates: pd.DataFrame,
    weights: ArrayLike | None = None,
    demand_ids: Sequence[Any] | None = None,
    demand_radius_s: ArrayLike | None = None,
    cutoff_s: float | None = None,
) -> PlacementInput:
    """Build the demand × candidate travel-time matrix of a placement on the network.

    Parameters
    ----------
    network
        The street network.
    demand_nodes
        Node of every demand (risk nodes from :func:`node_weights`, key places' nodes...).
    candidates
        ``node`` plus optional ``id``, ``kind`` and ``fixed`` (existing posts): e.g.
        :func:`candidate_sites` concatenated with stations and duty points. Duplicate nodes
        are kept once, a fixed one winning.
    weights
        Demand weights; 1 each by default.
    demand_ids
        Demand ids; ``"node:<n>"`` by default.
    demand_radius_s
        Per-demand largest admissible time (e.g. a school's 3 minutes beside a mall's 5):
        pairs beyond it are left out.
    cutoff_s
        Pairs slower than this are left out (keeps the matrix sparse); ``None`` keeps all.

    Returns
    -------
    PlacementInput

    Raises
    ------
    RoutingError
        If there is no demand or no candidate, or the columns do not fit.
    NetworkError
        If a node is not on the network.
    """
    nodes = as_nodes(network, np.asarray(demand_nodes), argument="demand_nodes")
    if len(nodes) == 0:
        raise RoutingError(
            _(
                "no demand to cover: 'demand_nodes' is empty (no risk on any street and no key "
                "place); import incidents or key places, or choose another demand"
            )
        )
    cand, cand_nodes = _candidate_table(network, candidates)
    weight = (
        np.ones(len(nodes)) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    )
    if len(weight) != len(nodes):
        raise RoutingError(
            f"'weights' should hold one value per demand node ({len(nodes):,}), got {len(weight):,}"
        )
    ids = tuple(f"node:{n}" for n in nodes) if demand_ids is None else tuple(demand_ids)
    if len(ids) != len(nodes):
        raise RoutingError(
            f"'demand_ids' should hold one id per demand node ({len(nodes):,}), got {len(ids):,}"
        )
    travel = _demand_travel_times(
        network, nodes, cand_nodes, cutoff_s=cutoff_s, demand_radius_s=demand_radius_s
    )
    logger.info(
        "placement input: %s demand, %s candidates (%s fixed), %s reachable pairs",
        f"{len(nodes):,}",
        f"{len(cand_nodes):,}",
        f"{int(cand['fixed'].sum()):,}",
        f"{travel.nnz:,}",
    )
    return PlacementInput(
        travel_time_s=travel,
        weights=weight,
        demand_nodes=nodes,
        candidate_nodes=cand_nodes,
        demand_ids=ids,
        candidate_ids=tuple(cand["id"].astype(str)),
        candidate_kind=tuple(cand["kind"].astype(str)),
        fixed=np.flatnonzero(cand["fixed"].to_numpy()).astype(np.int64),
        cutoff_s=cutoff_s,
    )


def _candidate_table(
    network: StreetNetwork, candidates: pd.DataFrame
) -> tuple[pd.DataFrame, NDArray[np.int64]]:
    """The candidates with ``id``, ``kind`` and ``fixed`` filled in, one per node (a fixed
    one winning), fixed first then by node; and their nodes, checked."""
    if not isinstance(candidates, pd.DataFrame) or "node" not in candidates.columns:
        raise RoutingError("'candidates' should be a DataFrame with a 'node' column")
    if len(candidates) == 0:
        raise RoutingError(
            _(
                "no candidate sites: 'candidates' is empty; add intersections (candidate_sites), "
                "stations or key places"
            )
        )
    cand = candidates.copy()
    cand["fixed"] = cand["fixed"].fillna(False).astype(bool) if "fixed" in cand else False
    if "id" not in cand:
        cand["id"] = [f"node:{n}" for n in cand["node"]]
    if "kind" not in cand:
        cand["kind"] = "site"
    # one site per node: an existing post beats an intersection at the same place
    cand = cand.sort_values("fixed", ascending=False, kind="stable").drop_duplicates("node")
    cand = cand.sort_values(["fixed", "node"], ascending=[False, True], kind="stable")
    cand_nodes = as_nodes(network, cand["node"].to_numpy(dtype=np.int64), argument="candidates")
    return cand, cand_nodes


def _demand_travel_times(
    network: StreetNetwork,
    nodes: NDArray[np.int64],
    cand_nodes: NDArray[np.int64],
    *,
    cutoff_s: float | None,
    demand_radius_s: ArrayLike | None,
) -> csr_array:
    """The sparse demand × candidate travel times, without the pairs beyond a demand's
    own radius."""
    # candidates travel to the demand, so the matrix is built candidate-major and turned
    matrix = travel_time_matrix(network, cand_nodes, nodes, cutoff_s=cutoff_s, sparse=True)
    demand_by_candidate = csr_array(matrix.T).tocoo()
    rows, cols, data = demand_by_candidate.row, demand_by_candidate.col, demand_by_candidate.data
    if demand_radius_s is not None:
        radius = np.asarray(demand_radius_s, dtype=float).reshape(-1)
        if len(radius) != len(nodes):
            raise RoutingError(
                f"'demand_radius_s' should hold one value per demand node ({len(nodes):,}), "
                f"got {len(radius):,}"
            )
        keep = data <= radius[rows]
        rows, cols, data = rows[keep], cols[keep], data[keep]
    return csr_array((data, (rows, cols)), shape=(len(nodes), len(cand_nodes)))
