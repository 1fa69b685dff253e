"""Tests of layers.schema: the one parser of id lists such as ``units.grid_ids``."""

from __future__ import annotations

import numpy as np
import pytest

from layers.schema import parse_id_list


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("g1,g2", ["g1", "g2"]),
        (" g1 ; g2 ", ["g1", "g2"]),
        ("网格1，网格2、网格3；网格4", ["网格1", "网格2", "网格3", "网格4"]),
        ("007, ,008,", ["007", "008"]),
        (["a", "b"], ["a", "b"]),
        (np.array(["a", "b"]), ["a", "b"]),
        (None, []),
        (float("nan"), []),
        ("", []),
    ],
)
def test_parse_id_list_accepts_every_separator(value, ids):
    assert parse_id_list(value) == ids
