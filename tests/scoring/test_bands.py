"""The band edges: low < 0.3 <= medium < 0.6 <= high (written here by hand, as documented)."""

import pytest
from ar_radar.scoring.bands import band


@pytest.mark.parametrize(("p", "expected"), [(0.1, "low"), (0.3, "medium"), (0.59, "medium"), (0.6, "high")])
def test_band_edges(p, expected):
    assert band(p) == expected
