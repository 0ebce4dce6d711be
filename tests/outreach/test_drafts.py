"""Reminder drafts on the sandbox warehouse: who gets one, in which tier, every figure from the data, and the
model's prose kept only when it passes every guardrail (the official openai client against the sandbox LLM)."""

from __future__ import annotations

import re
from decimal import Decimal

import duckdb
import pytest
from ar_radar.outreach import guardrails
from ar_radar.outreach.drafts import draft_reminders
from ar_radar.scoring.score import score_open_invoices

from tests.conftest import AS_OF, copy_of

TIER_OF_BUCKET = {"1-7": "light", "8-21": "direct", "22-45": "escalation_note", "45+": "owner_review"}


@pytest.fixture(scope="module")
def scored(warehouse, tmp_path_factory):
    """A copy of the warehouse with today's scores (the rules prior: no model trained here)."""
    settings = copy_of(warehouse, tmp_path_factory.mktemp("drafts"))
    score_open_invoices(settings.db_path, AS_OF)
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        expected = con.execute(
            """select tenant_id, contact_id, arg_max(collections_bucket, days_overdue), list(invoice_number),
                      list(amount_due)
               from scoring.invoice_risk_scores
               where as_of_date = ? and days_overdue > 0 and dispute_ticket_id is null and contact_id is not null
               group by all""",
            [AS_OF],
        ).fetchall()
        disputed = {
            r[0]
            for r in con.execute(
                "select invoice_number from scoring.invoice_risk_scores where dispute_ticket_id is not null"
            ).fetchall()
        }
    return settings, {(t, c): (TIER_OF_BUCKET[b], set(n), a) for t, c, b, n, a in expected}, disputed


def _amounts_in(text: str) -> set[Decimal]:
    return {Decimal(m.replace(",", "")) for m in re.findall(r"[£€]\s?([\d,]+\.\d{2})", text)}


def test_one_template_draft_per_customer_in_the_tier_of_its_oldest_overdue_invoice(scored):
    settings, expected, disputed = scored
    drafts = draft_reminders(settings.db_path, AS_OF, "run-1", None)
    got = {(d.tenant_id, d.contact_id): d for d in drafts}
    assert got.keys() == expected.keys() and len(drafts) > 20
    assert {d.tier for d in drafts} >= {"light", "direct", "escalation_note"}
    for key, draft in got.items():
        tier, numbers, amounts = expected[key]
        assert draft.tier == tier and draft.generator == "template"
        assert draft.fallback_reason == "no model configured: written from the template"
        assert {i["number"] for i in draft.invoices} == numbers and not numbers & disputed
        # every amount in the email is one of the warehouse's, for this customer
        assert _amounts_in(draft.text) == {Decimal(str(a)).quantize(Decimal("0.01")) for a in amounts}
        assert draft.to_customer == (tier in ("light", "direct"))
        assert bool(draft.recipients) <= draft.to_customer  # internal notes go to no customer
        if draft.to_customer:
            assert len(draft.text.split()) < 120 + 12 * len(numbers)  # the invoice lines are the data


def test_drafts_are_stored_once_per_day(scored):
    settings, expected, _ = scored
    draft_reminders(settings.db_path, AS_OF, "run-1", None)
    draft_reminders(settings.db_path, AS_OF, "run-2", None)  # a re-run replaces the day's drafts
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        rows, runs = con.execute(
            "select count(*), list(distinct run_id) from outreach.reminder_drafts where as_of_date = ?", [AS_OF]
        ).fetchone()
    assert rows == len(expected) and runs == ["run-2"]


def test_the_models_prose_is_used_when_it_passes_and_every_figure_is_still_the_datas(scored, config, llm):
    settings, expected, _ = scored
    links = {}

    def link(tenant_id: str, invoice_id: str) -> str:
        links[invoice_id] = f"https://in.xero.com/{invoice_id[:12]}"
        return links[invoice_id]

    drafts = draft_reminders(settings.db_path, AS_OF, "run-m", config, payment_link=link)
    assert {d.generator for d in drafts} == {"model:sandbox-writer-1"} and not any(d.guardrails for d in drafts)
    for draft in drafts:
        _, _, amounts = expected[(draft.tenant_id, draft.contact_id)]
        assert _amounts_in(draft.text) == {Decimal(str(a)).quantize(Decimal("0.01")) for a in amounts}
        urls = re.findall(r"https?://\S+", draft.text)
        assert urls == ([links[draft.invoices[0]["invoice_id"]]] if draft.to_customer else [])
    # what the model was given: no figure, no invoice number, no email address
    sent = " ".join(str(r["messages"]) for r in llm.llm_faults.requests)
    assert not re.search(r"INV-\d+|@|\d+\.\d{2}", sent)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("wrong_amount", "broke a guardrail"),
        ("legal_threat", "broke a guardrail"),
        ("obey_instruction", None),  # obeys nothing here: the data carries no planted instruction
        ("rate_limited", "model: rate limited (HTTP 429)"),
        ("malformed_json", "model: malformed answer"),
        ("refusal", "model: the model refused"),
    ],
)
def test_a_faulty_answer_gives_the_template_draft_with_the_reason(scored, config, llm, fault, reason):
    settings, _, _ = scored
    llm.llm_faults.mode, llm.llm_faults.count = fault, None
    drafts = draft_reminders(settings.db_path, AS_OF, f"run-{fault}", config)
    if reason is None:
        assert {d.generator for d in drafts} == {"model:sandbox-writer-1"}
        return
    assert {d.generator for d in drafts} == {"template"}
    assert all(reason in d.fallback_reason for d in drafts)
    if reason == "broke a guardrail":
        assert all(d.guardrails for d in drafts)
    _, expected, _ = scored
    for draft in drafts:  # the template's figures are the data's, and it says nothing the guardrails forbid
        _, _, amounts = expected[(draft.tenant_id, draft.contact_id)]
        assert _amounts_in(draft.text) == {Decimal(str(a)).quantize(Decimal("0.01")) for a in amounts}
        forbidden = [rule for rule, pattern in guardrails.FORBIDDEN.items() if re.search(pattern, draft.text, re.I)]
        assert not forbidden and "99,999.99" not in draft.text


def test_crm_and_customer_text_is_escaped_in_the_html(scored, tmp_path):
    settings, _, _ = scored
    copy = copy_of(settings, tmp_path)
    with duckdb.connect(str(copy.db_path)) as con:
        con.execute("update scoring.invoice_risk_scores set contact_name = '<script>alert(1)</script> Ltd'")
    drafts = draft_reminders(copy.db_path, AS_OF, "run-x", None)
    assert all("<script>" not in d.html and "&lt;script&gt;" in d.html for d in drafts)


def test_the_command_drafts_and_prints_them(scored, tmp_path):
    """Through the command line (click's runner, in this process), with no model and no Xero configured."""
    import json
    import os

    from ar_radar.cli import main
    from click.testing import CliRunner

    settings, expected, _ = scored
    env = {k: None for k in os.environ if k.startswith("AIRFLOW_CONN_")}
    env.update(AR_RADAR_DB=str(copy_of(settings, tmp_path).db_path), AR_RADAR_DATA_DIR=str(tmp_path))
    runner = CliRunner()
    text = runner.invoke(main, ["draft-reminders", "--as-of", AS_OF.isoformat()], env=env)
    assert text.exit_code == 0, text.output[-2000:]
    assert f"{len(expected)} draft(s) for {AS_OF}; writer: templates" in text.stdout and "Subject: " in text.stdout
    printed = runner.invoke(main, ["draft-reminders", "--as-of", AS_OF.isoformat(), "--json"], env=env)
    drafts = json.loads(printed.stdout)
    assert len(drafts) == len(expected) and {d["generator"] for d in drafts} == {"template"}
    assert {"tier", "subject", "text", "html", "recipients", "invoices", "guardrails"} <= drafts[0].keys()
