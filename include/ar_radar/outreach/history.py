"""The customer history a reviewer reads beside each draft (and the escalation note quotes): the last three CRM
notes or tickets, how the customer pays, open disputes, the promise to pay, and the likely cause of the delay with
the note or ticket ids it rests on.

The cause is one of ``CAUSES``. The offline method (default, and whenever CRM text must stay local or the model's
answer is unusable) reads the notes and tickets logged since shortly before the oldest chased invoice fell due: an
open dispute ticket on the customer's invoices says ``dispute``; otherwise the most recent text matching a cause's
words decides, and every text of that cause in the window is cited. No evidence: ``unknown``. With a model
configured and CRM text allowed to leave the machine, the model reads the same texts (as delimited data, in the
same request as the draft's prose: one call per customer) and must cite ids among them; an answer that cites
anything else falls back to the offline method, with the reason kept.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

import duckdb
from pydantic import BaseModel, Field

from ar_radar import database
from ar_radar.actions.cases import Case
from ar_radar.outreach import guardrails

CAUSES = ("forgot", "missing_information", "dispute", "cash_flow", "unknown")
RECENT = 3  # notes or tickets shown to the reviewer
WINDOW_BEFORE_DUE_DAYS = 14  # texts this long before the oldest chased due date can explain the delay
EXCERPT_CHARS = 240
# Words that point to a cause, checked in this order when one text matches several.
_CAUSE_WORDS = {
    "dispute": re.compile(r"\b(?:disput\w*|contest\w*|refus\w* to pay|wrong (?:amount|quantity)|overcharg\w*)", re.I),
    "missing_information": re.compile(
        r"\b(?:PO\b|purchase order|remittance|bank details|copy of (?:the )?invoice|invoice copy|"
        r"not (?:received|got) (?:the|our) invoice|wrong address|missing|rejected it|need\w* (?:a|the|our) \w+ before)",
        re.I,
    ),
    "cash_flow": re.compile(
        r"\b(?:cash[\s-]?flow|funds|tight|short this month|waiting (?:on|for) (?:a |their )?(?:\w+ )?"
        r"(?:client|customer)s?|can(?:no|')t afford|own customers pay)",
        re.I,
    ),
    "forgot": re.compile(r"\b(?:forg[oe]t\w*|overlook\w*|slipped|not seen|hadn't seen|oversight|missed it)", re.I),
}


@dataclass
class CustomerHistory:
    recent: list[dict]  # {kind, id, logged_at, excerpt, instruction_like}
    payments: dict  # paid invoices in the last 12 months, how many late, average days late
    open_disputes: list[dict]  # {ticket_id, subject, invoice_number}
    promise: dict | None
    cause: str
    evidence: list[str]  # ids of the notes or tickets the cause rests on
    method: str  # "offline" or "model:<name>"
    method_note: str | None = None  # why the offline method was used when a model is configured
    model_summary: str | None = None
    flagged: list[str] = field(default_factory=list)  # ids of texts that read like instructions to a model
    texts: list[dict] = field(default_factory=list, repr=False)  # the window's texts: what a model may read

    def as_dict(self) -> dict:
        return _jsonable({k: v for k, v in asdict(self).items() if k != "texts"})


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


class DelayCause(BaseModel):
    """The model's reading of the texts, asked in the same request as the draft's prose: a cause and its ids."""

    cause: Literal["forgot", "missing_information", "dispute", "cash_flow", "unknown"] = Field(
        description="Likely cause of the late payment, from crm_texts; unknown without evidence"
    )
    cited_ids: list[str] = Field(description="ids of the crm_texts that show the cause; empty for unknown")
    summary: str = Field(description="One internal sentence for the finance reviewer about the delay, no figures")


CAUSE_INSTRUCTIONS = (
    " Also read crm_texts (CRM notes and tickets) and open_dispute_ticket_ids and choose the likely cause of the late "
    "payment: forgot, missing_information (a purchase order, remittance or bank details, an invoice copy), dispute, "
    "cash_flow, or unknown when the texts give no evidence; cite the ids of the texts you rely on (none for "
    "unknown) and write one internal sentence for the finance reviewer."
)


TEXTS = """
    select t.text_kind, t.text_id, t.logged_at, t.closed_at, t.text, t.mentions_dispute
    from intermediate.int_crm_texts t
    where t.company_id = ? and cast(t.logged_at as date) <= ?
    order by t.logged_at desc, t.text_id desc
"""
DISPUTES = """
    select d.ticket_id, d.ticket_subject, i.invoice_number
    from intermediate.int_invoice_disputes d
    join intermediate.int_sales_invoices i using (tenant_id, invoice_id)
    where d.is_open and i.tenant_id = ? and i.contact_id = ?
    order by d.disputed_at
"""
PAYMENTS = """
    select paid_invoice_count, paid_late_count, share_paid_late, avg_days_late
    from marts.customer_risk_features where tenant_id = ? and contact_id = ?
"""


def _excerpt(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def offline_cause(texts: list[dict], disputes: list[dict], since: date) -> tuple[str, list[str]]:
    """The cause and the ids it rests on, from the texts (most recent first) logged on or after ``since``."""
    if disputes:
        return "dispute", list(dict.fromkeys(str(d["ticket_id"]) for d in disputes))
    window = [t for t in texts if t["logged_at"].date() >= since]
    for text in window:
        for cause, words in _CAUSE_WORDS.items():
            if words.search(text["text"] or ""):
                cited = [str(t["text_id"]) for t in window if words.search(t["text"] or "")]
                return cause, cited
    return "unknown", []


def _since(case: Case) -> date:
    chased = case.chased or case.invoices
    return min(i["due_date"] for i in chased) - timedelta(days=WINDOW_BEFORE_DUE_DAYS)


def customer_history(con: duckdb.DuckDBPyConnection, case: Case, as_of: date) -> CustomerHistory:
    """The history of one customer's case, its cause by the offline method (``with_model_cause`` may refine it)."""
    texts = database.rows(con, TEXTS, [case.hubspot_company_id, as_of]) if case.hubspot_company_id else []
    disputes = database.rows(con, DISPUTES, [case.tenant_id, case.contact_id])
    payments = next(iter(database.rows(con, PAYMENTS, [case.tenant_id, case.contact_id])), {})
    since = _since(case)
    window = [t for t in texts if t["logged_at"].date() >= since]
    cause, evidence = offline_cause(texts, disputes, since)
    return CustomerHistory(
        recent=[
            {
                "kind": t["text_kind"],
                "id": str(t["text_id"]),
                "logged_at": t["logged_at"],
                "excerpt": _excerpt(t["text"]),
                "instruction_like": guardrails.instruction_like(t["text"]),
            }
            for t in texts[:RECENT]
        ],
        payments={k: (float(v) if isinstance(v, float) else v) for k, v in payments.items()},
        open_disputes=[
            {"ticket_id": str(d["ticket_id"]), "subject": d["ticket_subject"], "invoice_number": d["invoice_number"]}
            for d in disputes
        ],
        promise=case.promise,
        cause=cause,
        evidence=evidence,
        method="offline",
        flagged=[str(t["text_id"]) for t in window if guardrails.instruction_like(t["text"])],
        texts=[{"id": str(t["text_id"]), "kind": t["text_kind"], "text": t["text"] or ""} for t in window[:10]],
    )


def model_data(history: CustomerHistory) -> dict:
    """What the model reads to find the cause: the window's CRM texts (id, kind, text) and open dispute ids."""
    return {"crm_texts": history.texts, "open_dispute_ticket_ids": [d["ticket_id"] for d in history.open_disputes]}


def read_model_cause(
    history: CustomerHistory, reading: DelayCause | None, model: str | None, failure: str | None
) -> CustomerHistory:
    """The history with the model's cause when its reading is usable (cites only texts it was given, and its sentence
    holds no figure or instruction), else the offline cause with the reason."""
    if reading is None:
        history.method_note = f"model: {failure}; offline method"
        return history
    given = {t["id"] for t in history.texts} | {d["ticket_id"] for d in history.open_disputes}
    cited = [str(i) for i in reading.cited_ids]
    if any(i not in given for i in cited) or (reading.cause != "unknown" and not cited):
        history.method_note = "model: cited no text or a text it was not given; offline method"
        return history
    if re.search(r"\d", reading.summary) or guardrails.instruction_like(reading.summary):
        history.method_note = "model: its summary held a figure or an instruction; offline method"
        return history
    history.cause, history.evidence = reading.cause, cited
    history.method, history.model_summary = f"model:{model}", reading.summary
    return history
