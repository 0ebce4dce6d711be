"""Exactly what leaves the machine when a model is configured (README, "What the model sees"), read from the
requests the sandbox LLM received; and that AR_RADAR_LLM_CRM_TEXT=local keeps every CRM text here."""

from __future__ import annotations

import json

import duckdb
import pytest
from ar_radar.outreach.drafts import DraftOptions, draft_reminders

from tests.conftest import AS_OF, copy_of

# The documented fields (README, "What the model sees"): one request per customer, with its CRM texts when the
# customer has any and they may leave the machine, else with the offline method's label for the cause.
BASE_FIELDS = {"customer_name", "language", "tone", "more_than_one_invoice"}
WITH_CRM_TEXT = BASE_FIELDS | {"crm_texts", "open_dispute_ticket_ids"}
WITHOUT_CRM_TEXT = BASE_FIELDS | {"likely_cause_of_delay"}
CRM_TEXT_FIELDS = {"id", "kind", "text"}


@pytest.fixture(scope="module")
def scored(scored_warehouse, tmp_path_factory):
    settings = copy_of(scored_warehouse, tmp_path_factory.mktemp("privacy"))
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        texts = [t for (t,) in con.execute("select text from intermediate.int_crm_texts").fetchall() if t]
        secrets = [
            v
            for row in con.execute("select email, contact_id::varchar from staging.stg_xero__contacts").fetchall()
            for v in row
        ]
    return settings, texts, [s for s in secrets if s]


def _blocks(requests):
    for body in requests:
        content = body["messages"][-1]["content"]
        yield body, json.loads(content[content.rindex("<data>") + 6 : content.rindex("</data>")])


def test_only_the_documented_fields_leave_the_machine(scored, config, llm):
    settings, _, secrets = scored
    drafts = draft_reminders(settings.db_path, AS_OF, "run-p", config)
    kinds = set()
    for body, block in _blocks(llm.llm_faults.requests):
        schema = body["response_format"]["json_schema"]["name"]
        if schema.endswith("WithCause"):
            assert set(block) == WITH_CRM_TEXT and 0 < len(block["crm_texts"]) + len(block["open_dispute_ticket_ids"])
            assert all(set(t) == CRM_TEXT_FIELDS for t in block["crm_texts"]) and len(block["crm_texts"]) <= 10
        else:
            assert set(block) == WITHOUT_CRM_TEXT
        kinds.add(schema)
        sent = json.dumps(body)
        assert not [s for s in secrets if s in sent]  # no email address, no Xero id
        assert config.api_key not in sent
    assert len(llm.llm_faults.requests) == len(drafts)  # one request per customer
    assert kinds >= {"ReminderProseWithCause", "ReminderProseAndWordsWithCause", "ReminderProse"}


def test_local_crm_text_never_leaves_and_summaries_stay_offline(scored, config, llm):
    settings, texts, _ = scored
    drafts = draft_reminders(settings.db_path, AS_OF, "run-l", config, options=DraftOptions(send_crm_text=False))
    sent = [json.dumps(body, ensure_ascii=False) for body in llm.llm_faults.requests]
    assert sent and not [t for t in texts if len(t) > 20 and any(t in s for s in sent)]
    for _body, block in _blocks(llm.llm_faults.requests):
        assert set(block) == WITHOUT_CRM_TEXT
    assert {d.summary["method"] for d in drafts} == {"offline"}
    assert {d.summary["method_note"] for d in drafts} == {
        "CRM text is kept local (AR_RADAR_LLM_CRM_TEXT=local): offline method"
    }
