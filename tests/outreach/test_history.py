"""The reviewer's customer history: the likely cause of the delay against the sandbox generator's ground truth
(causes written into HubSpot notes), its citations, and the model's reading kept only when it cites what it read."""

from __future__ import annotations

import pytest
from ar_radar import database
from ar_radar.actions.cases import customer_cases
from ar_radar.outreach.drafts import draft_reminders
from ar_radar.outreach.history import customer_history, offline_cause

from tests.conftest import AS_OF, copy_of

MIN_ACCURACY = 0.85  # measured 26 of 28 on the shared sandbox (BENCHMARKS.md); old notes mislead the other two


@pytest.fixture(scope="module")
def histories(scored_warehouse, sandbox, tmp_path_factory):
    """Every chased customer's case and history, with the generator's truth for it."""
    settings = copy_of(scored_warehouse, tmp_path_factory.mktemp("history"))  # drafts are written in it
    truth = {(c.tenant_id, k): v for c in sandbox.companies for k, v in c.situations.items()}
    with database.connect(settings.db_path, read_only=True) as con:
        cases = [c for c in customer_cases(con, AS_OF) if c.chased]
        found = [(c, customer_history(con, c, AS_OF), truth.get((c.tenant_id, c.contact_id))) for c in cases]
    return settings, found


def test_the_offline_cause_matches_the_generators_truth(histories):
    judged = [(h, t) for _, h, t in histories[1] if t is not None]
    assert len(judged) >= 20
    right = sum(h.cause == t["cause"] for h, t in judged)
    assert right / len(judged) >= MIN_ACCURACY, [(h.cause, t["cause"]) for h, t in judged if h.cause != t["cause"]]
    assert {t["cause"] for _, t in judged} >= {"forgot", "missing_information", "cash_flow", "unknown"}
    for history, truth in judged:
        if history.cause == truth["cause"] and truth["evidence"]:
            assert set(truth["evidence"]) <= set(history.evidence)  # it cites the note that says so


def test_unknown_without_evidence_and_every_citation_is_a_text_it_read(histories):
    for case, history, _truth in histories[1]:
        if not case.hubspot_company_id:
            assert history.cause == "unknown" and history.evidence == [] and history.recent == []
        assert len(history.recent) <= 3
        readable = {t["id"] for t in history.texts} | {d["ticket_id"] for d in history.open_disputes}
        assert set(history.evidence) <= readable
    assert any(h.cause == "unknown" and not h.evidence for _, h, _ in histories[1])


def test_an_open_dispute_ticket_is_the_cause(histories):
    from datetime import datetime

    texts = [{"text_id": "n1", "text": "They forgot to pay.", "logged_at": datetime(2026, 11, 10)}]
    disputes = [{"ticket_id": "t9"}]
    assert offline_cause(texts, disputes, datetime(2026, 11, 1).date()) == ("dispute", ["t9"])
    assert offline_cause(texts, [], datetime(2026, 11, 1).date()) == ("forgot", ["n1"])
    assert offline_cause(texts, [], datetime(2026, 11, 11).date()) == ("unknown", [])  # before the window


def test_the_models_cause_is_kept_only_when_it_cites_texts_it_was_given(histories, config, llm):
    """Read in the same request as the draft's prose (the sandbox LLM reads like a careful person)."""
    settings, found = histories
    offline = {(c.tenant_id, c.contact_id): h for c, h, _ in found}
    drafts = draft_reminders(settings.db_path, AS_OF, "run-cause", config)
    read = [d for d in drafts if d.summary["method"] == "model:sandbox-writer-1"]
    assert len(read) >= len(drafts) - 6  # the others had no CRM text to read: offline "unknown" stands
    for draft in read:
        texts = {t["id"] for t in offline[(draft.tenant_id, draft.contact_id)].texts}
        assert set(draft.summary["evidence"]) <= texts and draft.summary["model_summary"]
    llm.llm_faults.mode, llm.llm_faults.count = "wrong_citation", None
    wrong = draft_reminders(settings.db_path, AS_OF, "run-cite", config)
    assert {d.summary["method"] for d in wrong} == {"offline"}
    for draft in wrong:
        history = offline[(draft.tenant_id, draft.contact_id)]
        assert (draft.summary["cause"], draft.summary["evidence"]) == (history.cause, history.evidence)
        if history.texts:
            assert draft.summary["method_note"] == "model: cited no text or a text it was not given; offline method"
    assert {d.generator for d in wrong} == {"model:sandbox-writer-1"}  # the prose itself was fine
