"""AR_RADAR_THREADS bounds every CPU-heavy step; a meaningless value is refused by name, like every setting."""

import pytest
from ar_radar.threads import task_threads


def test_threads_come_from_the_environment_or_half_the_cores(monkeypatch):
    monkeypatch.setenv("AR_RADAR_THREADS", "3")
    assert task_threads() == 3
    monkeypatch.delenv("AR_RADAR_THREADS")
    assert task_threads() >= 1


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_meaningless_thread_count_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv("AR_RADAR_THREADS", value)
    with pytest.raises(ValueError, match=f"AR_RADAR_THREADS='{value}' must be a whole number of at least 1"):
        task_threads()
