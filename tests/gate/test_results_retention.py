import shutil
from datetime import datetime, timedelta
from pathlib import Path

import great_expectations as gx
from ar_radar.gate import results_retention
from ar_radar.gate.validate import validate

from tests.conftest import AS_OF

TABLES = 10  # checked tables in expectations/checks.yml: one stored result each per run


def _stored(gx_root: Path) -> list[Path]:
    return sorted((gx_root / "uncommitted" / "validations").rglob("*.json"))


def test_results_older_than_the_kept_days_go_with_their_data_docs_pages(warehouse, tmp_path):
    gx_root = tmp_path / "expectations"  # the committed GX project, without the checkout's stored results
    shutil.copytree(warehouse.gx_root, gx_root, ignore=shutil.ignore_patterns("uncommitted"))
    stale = AS_OF + timedelta(days=30)  # a month stale: the freshness warning renders its Data Docs page

    first = validate(warehouse.db_path, gx_root, "first", stale)
    first_page = Path(first.data_docs["freshness"])
    assert first_page.exists() and len(_stored(gx_root)) == TABLES

    # A run exactly keep_days after the first keeps it; a minute later it goes.
    context = gx.get_context(mode="file", context_root_dir=str(gx_root))
    ran_at = datetime.fromisoformat(first.checked_at)
    assert results_retention.prune(context, 90, ran_at + timedelta(days=90)) == 0
    assert len(_stored(gx_root)) == TABLES
    assert results_retention.prune(context, 90, ran_at + timedelta(days=90, minutes=1)) == TABLES
    assert _stored(gx_root) == []

    # Rendering Data Docs deletes the pages of pruned results.
    second_page = Path(validate(warehouse.db_path, gx_root, "second", stale).data_docs["freshness"])
    assert second_page.exists() and not first_page.exists()

    # The gate prunes before it stores its own results (keeping 0 days: every earlier run goes).
    third = validate(warehouse.db_path, gx_root, "third", stale, keep_results_days=0)
    assert {p.parts[-3] for p in _stored(gx_root)} == {"third"}
    assert len(_stored(gx_root)) == TABLES
    assert Path(third.data_docs["freshness"]).exists() and not second_page.exists()
