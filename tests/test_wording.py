"""Counts as people read them."""

from ar_radar.wording import count


def test_one_of_a_thing_is_singular_as_shown():
    assert count(1, "day") == "1 day"
    assert count(0, "invoice") == "0 invoices"
    assert count(1.4, "day") == "1 day"  # shown rounded: the word follows what is shown
    assert count(1.6, "day") == "2 days"
    assert count(1204, "day") == "1,204 days"
