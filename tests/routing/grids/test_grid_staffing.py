"""Tests of routing.grids.staffing: property status and the community staffing rule."""

from __future__ import annotations

import pandas as pd
import pytest

from routing.grids import GridError, officers_required, property_status, staffing_table


@pytest.mark.parametrize(
    ("households", "managed", "expected"),
    [
        (0, "semi", 3),
        (1500, "semi", 3),
        (1501, "semi", 4),
        (2000, "semi", 4),
        (2001, "semi", 5),
        (1500, "none", 5),
        (1501, "none", 6),
        (2000, "none", 6),
        (2001, "none", 7),
        (9000, "none", 7),
        (1500, "full", 0),
        (1501, "full", 0),
        (2000, "full", 0),
        (2001, "full", 0),
        (2001, "半物业", 5),
        (1200, "无物业", 5),
        (3000, "全物业", 0),
    ],
)
def test_staffing_rule(households: int, managed: str, expected: int) -> None:
    assert officers_required(households, managed) == expected


def test_property_status_words_and_errors() -> None:
    assert property_status(True) == "full"
    assert property_status(False) == "none"
    assert property_status(" Semi ") == "semi"
    assert property_status(None) is None
    with pytest.raises(GridError, match="property_managed='sometimes'"):
        property_status("sometimes")
    with pytest.raises(GridError, match="households=None"):
        officers_required(None, "semi")


def test_staffing_table_beside_current_officers() -> None:
    communities = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "name": ["A", "B", "C", "D"],
            "households": [1501, 2500, 900, 1000],
            "property_managed": ["semi", "full", "none", None],
        }
    )
    grids = pd.DataFrame(
        {
            "community_id": ["a", "a", "a", "b", "c"],
            "officer": ["Li", "Wang", "Li", "Zhao", " "],
        }
    )
    table = staffing_table(communities, grids).set_index("community_id")
    assert table.loc["a", "officers_required"] == 4
    assert table.loc["a", "officers_current"] == 2
    assert table.loc["a", "difference"] == -2
    assert table.loc["b", "officers_required"] == 0
    assert "property company is responsible" in str(table.loc["b", "note"])
    assert table.loc["c", "officers_required"] == 5
    assert table["officers_current"].isna()["c"]  # a blank name is no officer
    assert table["officers_required"].isna()["d"]
    assert "property management unknown" in str(table.loc["d", "note"])
