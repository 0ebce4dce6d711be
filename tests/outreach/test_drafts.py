"""Reminder drafts on the sandbox warehouse: who gets one, in which tier, every figure from the data, and the
model's prose kept only when it passes every guardrail (the official openai client against the sandbox LLM)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import duckdb
import pytest
from ar_radar.outreach import guardrails
from ar_radar.outreach.drafts import DraftOptions, draft_reminders
from ar_radar.outreach.review import write_review_page

from tests.conftest import AS_OF, copy_of

TIER_OF_BUCKET = {"1-7": "light", "8-21": "direct", "22-45": "escalation_note", "45+": "owner_review"}
# Who needs a draft, in plain SQL: a customer with an overdue invoice that is neither disputed nor covered by a
# pending promise to pay (the latest promise logged in the last 30 days, pending until its day plus 3).
NEEDS_A_DRAFT = """
    with promised as (
        select m.tenant_id, m.contact_id, arg_max(p.promised_for, p.noted_at) as promised_for
        from intermediate.int_payment_promises p
        join intermediate.int_customer_matches m on m.hubspot_company_id = p.company_id
        where cast(p.noted_at as date) between $as_of - 30 and $as_of
        group by all
    )
    select s.tenant_id, s.contact_id, arg_max(s.collections_bucket, s.days_overdue), list(s.invoice_number),
           list(s.amount_due)
    from scoring.invoice_risk_scores s
    left join promised p using (tenant_id, contact_id)
    where s.as_of_date = $as_of and s.days_overdue > 0 and s.dispute_ticket_id is null and s.contact_id is not null
      and not (p.promised_for is not null and $as_of <= p.promised_for + 3 and s.due_date <= p.promised_for)
    group by all
"""


@pytest.fixture(scope="module")
def scored(scored_warehouse, tmp_path_factory):
    """A copy of the warehouse with today's scores (the rules prior: no model trained here)."""
    settings = copy_of(scored_warehouse, tmp_path_factory.mktemp("drafts"))
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        expected = con.execute(NEEDS_A_DRAFT, {"as_of": AS_OF}).fetchall()
        disputed = {
            r[0]
            for r in con.execute(
                "select invoice_number from scoring.invoice_risk_scores where dispute_ticket_id is not null"
            ).fetchall()
        }
    return settings, {(t, c): (TIER_OF_BUCKET[b], set(n), a) for t, c, b, n, a in expected}, disputed


def _amounts_in(text: str) -> set[Decimal]:
    return {Decimal(m.replace(",", "")) for m in re.findall(r"[£€]\s?([\d,]+\.\d{2})", text)}


def _data_blocks(requests: list[dict]) -> list[dict]:
    blocks = []
    for body in requests:
        content = body["messages"][-1]["content"]
        blocks.append(json.loads(content[content.rindex("<data>") + 6 : content.rindex("</data>")]))
    return blocks


def test_one_template_draft_per_customer_in_the_tier_of_its_oldest_overdue_invoice(scored):
    settings, expected, disputed = scored
    drafts = draft_reminders(settings.db_path, AS_OF, "run-1", None)
    got = {(d.tenant_id, d.contact_id): d for d in drafts}
    assert got.keys() == expected.keys() and len(drafts) > 20
    assert {d.tier for d in drafts} == {"light", "direct", "escalation_note", "owner_review"}
    for key, draft in got.items():
        tier, numbers, amounts = expected[key]
        assert draft.tier == tier and draft.generator == "template" and draft.language == "en"
        assert draft.fallback_reason == "no model configured: written from the template"
        assert {i["number"] for i in draft.invoices} == numbers and not numbers & disputed
        # every amount in the email is one of the warehouse's, for this customer
        assert _amounts_in(draft.text) == {Decimal(str(a)).quantize(Decimal("0.01")) for a in amounts}
        assert draft.to_customer == (draft.tone in ("light", "direct"))
        assert bool(draft.recipients) <= draft.to_customer  # internal notes go to no customer
        if draft.to_customer:
            assert len(draft.text.split()) < 120 + 12 * len(numbers)  # the invoice lines are the data
        assert draft.summary["cause"] in ("forgot", "missing_information", "dispute", "cash_flow", "unknown")
    # a broken promise is firmer and says when payment was promised; internal notes carry the likely cause
    broken = [d for d in drafts if any(f.startswith("broken promise") for f in d.flags)]
    assert broken and all(d.summary["promise"]["status"] == "broken" for d in broken)
    assert any(d.tone == "direct" and "We were told payment would follow by" in d.text for d in broken)
    notes = [d for d in drafts if d.tone == "escalation_note" and d.summary["cause"] != "unknown"]
    assert notes and all(f"HubSpot {d.summary['evidence'][0]}" in d.text for d in notes)


def test_an_invoice_one_day_overdue_is_one_day_overdue(scored, tmp_path):
    """In a direct reminder to a customer (and the internal notes) a day count agrees with its number."""
    settings = copy_of(scored[0], tmp_path)
    with duckdb.connect(str(settings.db_path)) as con:
        # a direct-tier customer's newest overdue invoice made one day overdue (its oldest keeps the tier)
        [(tenant, invoice, number)] = con.execute(
            """select tenant_id, arg_min(invoice_id, days_overdue), arg_min(invoice_number, days_overdue)
               from scoring.invoice_risk_scores
               where as_of_date = $as_of and days_overdue > 0 and dispute_ticket_id is null
               group by tenant_id, contact_id
               having max(days_overdue) between 8 and 21 and count(*) > 1
               order by all limit 1""",
            {"as_of": AS_OF},
        ).fetchall()
        con.execute(
            "update scoring.invoice_risk_scores set days_overdue = 1, due_date = $as_of - 1 "
            "where as_of_date = $as_of and tenant_id = $t and invoice_id = $i",
            {"as_of": AS_OF, "t": tenant, "i": invoice},
        )
    drafts = draft_reminders(settings.db_path, AS_OF, "run-1", None)
    [draft] = [d for d in drafts if number in {i["number"] for i in d.invoices}]
    assert draft.tone == "direct" and draft.to_customer
    assert re.search(rf"^- {re.escape(number)}: .+ \(1 day overdue\)$", draft.text, re.M), draft.text
    for d in drafts:
        for count, word in re.findall(r"\((\d+) (days?) overdue\)", d.text):
            assert (word == "day") == (count == "1"), d.text


def test_drafts_are_stored_once_per_day(scored):
    settings, expected, _ = scored
    draft_reminders(settings.db_path, AS_OF, "run-1", None)
    draft_reminders(settings.db_path, AS_OF, "run-2", None)  # a re-run replaces the day's drafts
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        rows, runs, summaries = con.execute(
            """select count(*), list(distinct run_id), count(*) filter (where summary ->> 'cause' is not null)
               from outreach.reminder_drafts where as_of_date = ?""",
            [AS_OF],
        ).fetchone()
    assert rows == summaries == len(expected) and runs == ["run-2"]


def test_an_upcoming_notice_only_when_finance_turns_it_on(scored):
    settings, expected, _ = scored
    on = draft_reminders(settings.db_path, AS_OF, "run-up", None, options=DraftOptions(upcoming_notice=True))
    upcoming = [d for d in on if d.tone == "upcoming"]
    assert upcoming and len(on) == len(expected) + len(upcoming)
    assert all(i["days_overdue"] <= 0 for d in upcoming for i in d.invoices)
    assert all("falls due soon" in d.text or "fall due soon" in d.text for d in upcoming)


def test_the_models_prose_is_used_when_it_passes_and_every_figure_is_still_the_datas(scored, config, llm):
    settings, expected, _ = scored
    links = {}

    def link(tenant_id: str, invoice_id: str) -> str:
        links[invoice_id] = f"https://in.xero.com/{invoice_id[:12]}"
        return links[invoice_id]

    drafts = draft_reminders(settings.db_path, AS_OF, "run-m", config, payment_link=link)
    planted = {d.contact_id for d in drafts if d.summary["flagged"]}
    assert len(planted) == 1  # the generator plants one instruction in a note; obeying nothing, it passes here
    assert {d.generator for d in drafts} == {"model:sandbox-writer-1"} and not any(d.guardrails for d in drafts)
    for draft in drafts:
        _, _, amounts = expected[(draft.tenant_id, draft.contact_id)]
        if draft.language == "en":
            assert _amounts_in(draft.text) == {Decimal(str(a)).quantize(Decimal("0.01")) for a in amounts}
        urls = re.findall(r"https?://\S+", draft.text)
        assert urls == ([links[draft.invoices[0]["invoice_id"]]] if draft.to_customer else [])
    # the model was given no figure, invoice number or email address besides what CRM notes themselves say
    for block in _data_blocks(llm.llm_faults.requests):
        own = json.dumps({k: v for k, v in block.items() if k not in ("crm_texts", "open_dispute_ticket_ids")})
        assert not re.search(r"INV-\d+|@|\d+\.\d{2}|\d{4}-\d{2}-\d{2}", own)


def test_a_customer_who_prefers_another_language_gets_its_figures_in_that_language(scored, config):
    settings, _, _ = scored
    drafts = draft_reminders(settings.db_path, AS_OF, "run-lang", config)
    foreign = [d for d in drafts if d.to_customer and d.language != "en"]
    assert foreign, "the shared sandbox has customers whose CRM contact prefers French or German"
    for draft in foreign:
        assert draft.generator.startswith("model:")  # no fr/de templates: the model wrote the frame's words too
        # babel's formats: 1 234,56 € (fr) or 1.234,56 € (de), never the English 1,234.56
        assert re.search(r"\d,\d{2}\s?[€£]", draft.text) and not re.search(r"[€£]\d", draft.text)
    template = draft_reminders(settings.db_path, AS_OF, "run-lang-t", None)
    english = [d for d in template if (d.tenant_id, d.contact_id) in {(f.tenant_id, f.contact_id) for f in foreign}]
    assert all(
        d.language == "en" and any("templates: the template draft is in English" in f for f in d.flags) for d in english
    )


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("wrong_amount", "broke a guardrail"),
        ("legal_threat", "broke a guardrail"),
        ("rate_limited", "model: rate limited (HTTP 429)"),
        ("server_error", "model: service error (HTTP 500)"),
        ("malformed_json", "model: malformed answer"),
        ("refusal", "model: the model refused"),
        ("truncated", "model: answer cut off"),
    ],
)
def test_a_faulty_answer_gives_the_template_draft_with_the_reason(scored, config, llm, fault, reason):
    settings, _, _ = scored
    llm.llm_faults.mode, llm.llm_faults.count = fault, None
    drafts = draft_reminders(settings.db_path, AS_OF, f"run-{fault}", config)
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


def test_a_slow_model_times_out_into_the_template(scored, llm, monkeypatch):
    settings, _, _ = scored
    llm.llm_faults.mode, llm.llm_faults.count, llm.llm_faults.slow_seconds = "slow", 2, 1.5
    for name, value in llm.llm_connection(timeout=0.5).items():
        monkeypatch.setenv(name, value)
    from ar_radar.outreach.llm import load_config

    drafts = draft_reminders(settings.db_path, AS_OF, "run-slow", load_config(), options=DraftOptions(concurrency=1))
    timed_out = [d for d in drafts if "timeout: no answer within 0.5 s" in (d.fallback_reason or "")]
    assert len(timed_out) == 2  # the two slow answers, no more
    # one request per customer: the cause it would have read falls back to the offline method too
    assert all(d.summary["method"] == "offline" for d in timed_out)
    assert sum(d.generator.startswith("model:") for d in drafts) >= len(drafts) - 2


def test_an_instruction_planted_in_a_note_is_flagged_and_never_obeyed(scored, config, llm):
    settings, _, _ = scored
    llm.llm_faults.mode, llm.llm_faults.count = "obey_instruction", None
    drafts = draft_reminders(settings.db_path, AS_OF, "run-obey", config)
    planted = [d for d in drafts if d.summary["flagged"]]
    assert len(planted) == 1
    [draft] = planted
    assert draft.generator == "template" and any("discount" in g for g in draft.guardrails)
    assert any("reads like an instruction to a model: not followed" in f for f in draft.flags)
    assert "discount" not in draft.text.lower() and "discount" not in (draft.summary["model_summary"] or "")
    # everyone else's notes carry no instruction: the same model's answers pass
    assert {d.generator for d in drafts if d not in planted} == {"model:sandbox-writer-1"}


def test_another_customers_name_sends_the_draft_back_to_its_template(scored, config, llm):
    settings, expected, _ = scored
    tenant, contact = sorted(expected)[0]
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        [name] = con.execute(
            "select contact_name from staging.stg_xero__contacts where tenant_id = ? and contact_id = ?",
            [tenant, contact],
        ).fetchone()
    llm.llm_faults.mode, llm.llm_faults.count, llm.llm_faults.other_name = "other_customer", None, name
    try:
        drafts = draft_reminders(settings.db_path, AS_OF, "run-other", config)
    finally:
        llm.llm_faults.other_name = None
    same_organisation = [d for d in drafts if d.tenant_id == tenant and d.contact_id != contact]
    assert same_organisation and all(d.generator == "template" for d in same_organisation)
    assert all(any(g.startswith("other customer: names") for g in d.guardrails) for d in same_organisation)
    assert all(name not in d.text for d in same_organisation)
    # naming its own customer is no other customer's name: that draft keeps the model's prose
    [own] = [d for d in drafts if (d.tenant_id, d.contact_id) == (tenant, contact)]
    assert own.generator.startswith("model:") and name in own.text


def test_crm_and_customer_text_is_escaped_in_the_html(scored, tmp_path):
    settings, _, _ = scored
    copy = copy_of(settings, tmp_path)
    with duckdb.connect(str(copy.db_path)) as con:
        con.execute("update scoring.invoice_risk_scores set contact_name = '<script>alert(1)</script> Ltd'")
        con.execute("update intermediate.int_crm_texts set text = '<img src=x onerror=alert(1)> ' || text")
    drafts = draft_reminders(copy.db_path, AS_OF, "run-x", None)
    assert all("<script>" not in d.html and "&lt;script&gt;" in d.html for d in drafts)
    # the reviewer's page: every draft, its evidence (CRM text escaped), its guardrail results
    page = write_review_page(copy.db_path, AS_OF, tmp_path / "out").read_text()
    assert page.count('<section id="draft-') == len(drafts)
    assert "<script>" not in page and "<img" not in page and "&lt;img src=x" in page
    assert "Likely cause of the delay" in page and "Last notes and tickets" in page


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
    assert {"tier", "tone", "subject", "text", "html", "recipients", "invoices", "guardrails", "summary"} <= drafts[
        0
    ].keys()
    assert (tmp_path / "output" / f"reminder_drafts_{AS_OF}.html").exists()
