"""HubSpot extraction through the official hubspot-api-client SDK, over HTTP, against the sandbox."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from ar_radar.extract.connections import ApiConnection, connection_from_env
from ar_radar.extract.hubspot import STREAMS, HubSpotExtractError, extract_hubspot
from ar_radar.extract.rate_limit import SimulatedClock
from ar_radar.local.sandbox.server import Sandbox


def _landed(batch) -> list[dict]:
    return [json.loads(line) for f in sorted(batch.path.glob("*.jsonl")) for line in f.read_text().splitlines()]


def _conn(box: Sandbox) -> ApiConnection:
    raw = json.loads(box.airflow_connections()["AIRFLOW_CONN_HUBSPOT_DEFAULT"])
    return ApiConnection("hubspot_default", None, raw["password"], None, raw["extra"])


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _contact(object_id: int, modified: datetime, company: str | None = None) -> dict:
    stamp = _iso(modified)
    return {
        "id": str(object_id),
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
        "properties": {
            "hs_object_id": str(object_id),
            "createdate": stamp,
            "hs_lastmodifieddate": stamp,
            "email": f"c{object_id}@example.com",
        },
        "_associations": {"companies": [company]} if company else {},
    }


def _objects(contacts: list[dict]) -> dict[str, list[dict]]:
    return {"companies": [], "contacts": contacts, "deals": [], "tickets": [], "notes": []}


def test_all_objects_with_company_associations_from_the_v4_batch_endpoint(sandbox_env, tmp_path):
    batches = {b.entity: b for b in extract_hubspot(connection_from_env("hubspot_default"), tmp_path / "l", "run")}
    assert set(batches) == {s.entity for s in STREAMS}
    for entity, batch in batches.items():
        landed = _landed(batch)
        expected = {o["id"] for c in sandbox_env.companies for o in c.hubspot[entity]}
        assert sorted(r["record_id"] for r in landed) == sorted(expected), entity
    note = next(r["payload"] for r in _landed(batches["notes"]))
    assert note["properties"]["hs_note_body"].startswith("<p>")
    source = next(o for c in sandbox_env.companies for o in c.hubspot["notes"] if o["id"] == note["id"])
    assert [a["id"] for a in note["associations"]["companies"]["results"]] == source["_associations"]["companies"]


def test_incremental_run_reads_only_what_changed(tmp_path):
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    contacts = [_contact(i, now - timedelta(days=i)) for i in range(1, 451)]
    with Sandbox(hubspot_objects=_objects(contacts), clock=SimulatedClock()) as box:
        conn, stats = _conn(box), box.hubspot_app.config["stats"]
        extract_hubspot(conn, tmp_path / "landing", "run-1", clock=box.clock)
        full_searches = stats["searches"]
        contacts[-1]["properties"]["hs_lastmodifieddate"] = _iso(now + timedelta(hours=1))
        [_, changed, *_] = extract_hubspot(conn, tmp_path / "landing", "run-2", clock=box.clock)
        incremental_searches = stats["searches"] - full_searches
    assert full_searches == len(STREAMS) - 1 + 3  # 450 contacts: 3 pages of 200; 1 empty search per other type
    assert incremental_searches == len(STREAMS)  # one search per object type
    assert {r["record_id"] for r in _landed(changed)} == {"1", "450"}  # the lookback re-reads the newest too


def test_more_than_10000_records_sharing_one_timestamp_are_all_read_once(tmp_path):
    moment = datetime(2026, 11, 1, 9, tzinfo=UTC)  # a bulk import touched them all at once
    ids = list(range(1, 10_501))
    random.Random(1).shuffle(ids)  # the portal's tie order is not the id order
    contacts = [_contact(i, moment) for i in ids] + [_contact(20_000, moment + timedelta(seconds=1))]
    clock = SimulatedClock()
    with Sandbox(hubspot_objects=_objects(contacts), clock=clock) as box:
        batches = extract_hubspot(_conn(box), tmp_path / "landing", "run", clock=clock)
        searches = box.hubspot_app.config["stats"]["searches"]
        rejected = box.hubspot_app.config["limiter"].rejected
    landed = [r["record_id"] for r in _landed(batches[1])]
    assert sorted(landed, key=int) == [str(i) for i in range(1, 10_501)] + ["20000"]
    assert searches < 130  # 10,501 / 200 = 53 pages; the cap costs a second pass, not a loop
    assert rejected == 0  # 5 searches a second and 100 calls per 10 s kept client-side


def test_429_on_post_search_is_retried(tmp_path):
    contacts = [_contact(i, datetime(2026, 11, 1, tzinfo=UTC)) for i in range(1, 30)]
    clock = SimulatedClock()
    with Sandbox(hubspot_objects=_objects(contacts), clock=clock) as box:
        box.hubspot_faults.rate_limit_429 = 3
        batches = extract_hubspot(_conn(box), tmp_path / "landing", "run", clock=clock)
    assert box.hubspot_faults.rate_limit_429 == 0 and len(_landed(batches[1])) == 29
    assert clock.slept > 0


def test_index_lag_is_covered_by_the_lookback(tmp_path):
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    late = _contact(2, now - timedelta(minutes=5))  # written before the newest, indexed after the run
    contacts = [_contact(1, now), late]
    clock = SimulatedClock()
    with Sandbox(hubspot_objects=_objects(contacts), clock=clock) as box:
        box.hubspot_faults.index_lag_ids = frozenset({"2"})
        first = extract_hubspot(_conn(box), tmp_path / "landing", "run-1", clock=clock)[1]
        box.hubspot_faults.index_lag_ids = frozenset()
        second = extract_hubspot(_conn(box), tmp_path / "landing", "run-2", clock=clock)[1]
    assert [r["record_id"] for r in _landed(first)] == ["1"]
    assert "2" in {r["record_id"] for r in _landed(second)}


def test_archived_objects_are_landed_as_deletions(tmp_path):
    contacts = [
        _contact(1, datetime(2026, 11, 1, tzinfo=UTC)),
        {**_contact(2, datetime(2026, 11, 2, tzinfo=UTC)), "archived": True},
    ]
    with Sandbox(hubspot_objects=_objects(contacts), clock=SimulatedClock()) as box:
        batches = extract_hubspot(_conn(box), tmp_path / "landing", "run", clock=box.clock)
    landed = {r["record_id"]: r["payload"]["archived"] for r in _landed(batches[1])}
    assert landed == {"1": False, "2": True}


def test_bad_token_is_a_clear_error_without_the_token(sandbox_env, tmp_path):
    conn = replace(connection_from_env("hubspot_default"), password="pat-wrong-token")
    with pytest.raises(HubSpotExtractError) as err:
        extract_hubspot(conn, tmp_path / "landing", "run-x")
    assert "401" in str(err.value) and "pat-wrong-token" not in str(err.value)


def test_records_changing_while_paged_are_not_lost(tmp_path):
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    contacts = [_contact(i, now - timedelta(minutes=i)) for i in range(1, 651)]
    clock = SimulatedClock()
    with Sandbox(hubspot_objects=_objects(contacts), clock=clock) as box:
        box.hubspot_faults.change_while_paging = True
        batches = extract_hubspot(_conn(box), tmp_path / "landing", "run", clock=clock)
        assert not box.hubspot_faults.change_while_paging  # the fault fired
    assert sorted(int(r["record_id"]) for r in _landed(batches[1])) == list(range(1, 651))
