"""HubSpot around a send, through the official client within HubSpot's limits: what changed since drafting (the
last-moment dispute and promise check) and a note on the company for each reminder sent (so account owners see
it in the CRM)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ar_radar.extract import hubspot
from ar_radar.extract.connections import ApiConnection
from ar_radar.extract.rate_limit import Clock

NOTE_TO_COMPANY = 190  # HubSpot's association type id for note -> company (HUBSPOT_DEFINED)


class CrmActivity:
    def __init__(self, conn: ApiConnection, clock: Clock | None = None) -> None:
        self.api = hubspot.HubSpotApi(conn, clock)  # clock: simulated time in the benchmark

    def changed_since(self, moment: datetime) -> list[dict]:
        """Notes and tickets created or edited since ``moment``, each with its company: {kind, id, company_id,
        text, logged_at}."""
        since_ms = int(moment.timestamp() * 1000)
        found: list[dict] = []
        for entity, kind in (("tickets", "ticket"), ("notes", "note")):
            stream = next(s for s in hubspot.STREAMS if s.entity == entity)
            records: list[dict] = []
            hubspot.search_changed(self.api, stream, since_ms, records.extend)
            companies = hubspot.read_company_associations(self.api, stream, [r["id"] for r in records])
            for record in records:
                props = record.get("properties") or {}
                text = (
                    re.sub(r"<[^>]*>", " ", props.get("hs_note_body") or "")
                    if kind == "note"
                    else f"{props.get('subject') or ''}. {props.get('content') or ''}"
                )
                stamp = props.get("hs_timestamp") or props.get("createdate") or record.get("createdAt")
                logged = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else datetime.now(UTC)
                for company_id in companies.get(record["id"], []):
                    found.append(
                        {"kind": kind, "id": record["id"], "company_id": company_id, "text": text, "logged_at": logged}
                    )
        return found

    def note_on_company(self, company_id: str, text: str) -> str | None:
        """Create a note associated to the company (v3 notes API); returns its id."""
        from hubspot.crm.objects.notes import AssociationSpec, PublicAssociationsForObject, PublicObjectId
        from hubspot.crm.objects.notes import SimplePublicObjectInputForCreate as NoteInput

        note = NoteInput(
            properties={"hs_note_body": text, "hs_timestamp": datetime.now(UTC).isoformat(timespec="milliseconds")},
            associations=[
                PublicAssociationsForObject(
                    to=PublicObjectId(id=company_id),
                    types=[
                        AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=NOTE_TO_COMPANY)
                    ],
                )
            ],
        )
        basic_api = self.api.client.crm.objects.notes.basic_api
        created = self.api.call(
            f"HubSpot note on company {company_id}",
            lambda: basic_api.create(
                simple_public_object_input_for_create=note, _preload_content=False, _request_timeout=self.api.timeout
            ),
        )
        return str(created.get("id")) if created.get("id") else None
