"""HubSpot extraction through the official hubspot-api-client SDK, over HTTP, against the sandbox."""

import json
from dataclasses import replace

import pytest
from ar_radar.connections import connection_from_env
from ar_radar.extract.hubspot import HubSpotExtractError, extract_hubspot


def test_all_objects_with_company_associations(sandbox_env, tmp_path):
    batches = {b.entity: b for b in extract_hubspot(connection_from_env("hubspot_default"), tmp_path, "run-h")}
    assert set(batches) == {"companies", "contacts", "deals", "tickets", "notes"}
    for entity, batch in batches.items():
        expected = sum(len(c.hubspot[entity]) for c in sandbox_env.companies)
        assert batch.records == expected, entity
    notes = [json.loads(line) for line in batches["notes"].path.read_text().splitlines()]
    assert len(notes) > 100  # several pages of 100
    first = notes[0]["payload"]
    assert first["properties"]["hs_note_body"].startswith("<p>")
    assert first["associations"]["companies"]["results"][0]["type"] == "note_to_company"


def test_bad_token_is_a_clear_error_without_the_token(sandbox_env, tmp_path):
    conn = replace(connection_from_env("hubspot_default"), password="pat-wrong-token")
    with pytest.raises(HubSpotExtractError) as err:
        extract_hubspot(conn, tmp_path, "run-x")
    assert "401" in str(err.value) and "pat-wrong-token" not in str(err.value)
