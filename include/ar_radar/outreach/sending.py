"""Send the approved reminders, each only after a last-moment check, never twice; log every send and every skip.

For each customer email drafted today (``outreach.reminder_drafts``, tones light/direct/upcoming):

1. the reviewer's decision (``Approval``: the batch, minus excluded draft numbers; or none; or the timeout), or,
   for the drafts the auto-send rule let through (``outreach.auto_send``, off by default), that rule;
2. opt-out (``customer_outreach_profiles.opted_out`` or ``outreach.opt_outs``), the holdout share, and the
   frequency cap (one reminder per customer per ``cap_business_days``);
3. Xero, now: every invoice of the draft re-read by id (``XeroApi.invoices_by_id``, 50 a call, within the
   organisation's limits) must still be AUTHORISED with the approved amount due; the approved text is sent as it
   is or not at all, so one changed invoice (paid, part-paid, voided, credited) stops the email, with the reason;
4. HubSpot, now: a ticket or note changed since drafting that disputes one of its invoices, or a new promise to
   pay, stops it too;
5. the send key (customer, day, invoice set) is written as ``sending`` before the SMTP call and ``sent`` after:
   a retry or re-run finds it and sends nothing; a crash between the two leaves ``sending``, which is never
   re-sent automatically (a person checks the mailbox). An SMTP refusal is retried, then logged ``failed``;
6. after sending, a note on the HubSpot company says what was sent (v3 notes API, associated to the company).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import numpy as np

from ar_radar import database
from ar_radar.actions.cases import MAX_REMINDERS_PER_INVOICE, reminders_sent
from ar_radar.actions.promises import find_promise, status
from ar_radar.outreach import auto_send
from ar_radar.outreach.drafts import TO_CUSTOMER
from ar_radar.outreach.review import numbered_drafts
from ar_radar.warehouse.build import project_var

log = logging.getLogger(__name__)

SEND_ALL, SEND_NONE = "Send the approved drafts", "Send none"
OPTIONS = [SEND_ALL, SEND_NONE]


@dataclass(frozen=True)
class Approval:
    decision: str  # "send", "none", "timeout", or "auto" (the auto-send rule's drafts, no person involved)
    excluded: frozenset[int] = frozenset()  # draft numbers the reviewer left out
    by: str | None = None
    at: datetime | None = None

    @classmethod
    def from_hitl(cls, result: dict | None) -> Approval:
        """From the HITL task's result (chosen_options, params_input, responded_by_user, responded_at)."""
        if not result:
            return cls("timeout")
        user = result.get("responded_by_user") or {}
        by = user.get("name") if isinstance(user, dict) else str(user) if user else None
        at = result.get("responded_at")
        at = datetime.fromisoformat(at) if isinstance(at, str) else at
        if by is None:  # the timeout sweep applies the defaults and names nobody
            return cls("timeout", at=at)
        chosen = result.get("chosen_options") or []
        if SEND_ALL not in chosen:
            return cls("none", by=by, at=at)
        return cls("send", excluded_numbers((result.get("params_input") or {}).get("exclude")), by, at)

    @classmethod
    def auto_send_rule(cls) -> Approval:
        """For the drafts the auto-send rule let through when they were drafted (``outreach.auto_send``)."""
        return cls("auto", by=auto_send.BY, at=datetime.now(UTC))


def excluded_numbers(text: object) -> frozenset[int]:
    """Draft numbers typed by the reviewer: "3, 7 12" -> {3, 7, 12}. Anything else in the text is refused."""
    text = str(text or "").strip()
    if not text:
        return frozenset()
    if not re.fullmatch(r"[\d,;\s]+", text):
        raise ValueError(f"exclude must list draft numbers (e.g. '3, 7'), not {text!r}")
    return frozenset(int(n) for n in re.findall(r"\d+", text))


@dataclass(frozen=True)
class SendOptions:
    sender: str  # the finance mailbox the customer sees
    reply_to: str
    cap_business_days: int = 5
    holdout_percent: int = 0
    smtp_retry_wait_seconds: float = 0.5  # first wait before an SMTP retry (doubles; 3 attempts in all)


@dataclass
class Outcome:
    number: int
    tenant_id: str
    contact_id: str
    customer_name: str
    status: str  # sent, skipped, failed, unknown
    reason: str
    recipients: list[str] = field(default_factory=list)
    invoices: list[dict] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    xero_check: list[dict] = field(default_factory=list)
    hubspot_note_id: str | None = None
    send_key: str | None = None


def in_holdout(tenant_id: str, contact_id: str, percent: int) -> bool:
    """A stable, random share of customers: the same ones every day (hash of the customer), none at 0 %."""
    digest = hashlib.sha256(f"{tenant_id}:{contact_id}".encode()).hexdigest()
    return int(digest[:8], 16) % 100 < percent


def send_key(tenant_id: str, contact_id: str, as_of: date, invoice_ids: list[str]) -> str:
    raw = f"{tenant_id}|{contact_id}|{as_of.isoformat()}|{','.join(sorted(invoice_ids))}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _business_days_before(day: date, n: int) -> date:
    return np.busday_offset(np.datetime64(day), -n, roll="backward").astype(date)


def _opted_out(con: object) -> set[tuple[str, str]]:
    database.ensure(con, "outreach.opt_outs")
    return {(t, c) for t, c in con.execute("select tenant_id, contact_id from outreach.opt_outs").fetchall()}


def _recent_sends(con: object, since: date) -> dict[tuple[str, str], date]:
    rows = con.execute(
        "select tenant_id, contact_id, max(as_of_date) from outreach.reminder_log "
        "where status in ('sent', 'sending', 'unknown') and as_of_date >= ? group by all",
        [since],
    ).fetchall()
    return {(t, c): d for t, c, d in rows}


def xero_changes(draft: dict, now: dict[str, dict]) -> list[dict]:
    """Each invoice of the draft as approved and as Xero has it now; ``ok`` False when it changed."""
    checked = []
    for invoice in draft["invoices"]:
        current = now.get(invoice["invoice_id"])
        approved = Decimal(str(invoice["amount_due"]))
        if current is None:
            checked.append({**_short(invoice), "ok": False, "now": "not found in Xero"})
            continue
        amount = Decimal(str(current.get("AmountDue", "0")))
        ok = current.get("Status") == "AUTHORISED" and amount == approved
        what = f"{current.get('Status')}, amount due {amount:.2f} (approved {approved:.2f})" if not ok else "unchanged"
        checked.append({**_short(invoice), "ok": ok, "now": what})
    return checked


def _short(invoice: dict) -> dict:
    return {"invoice_id": invoice["invoice_id"], "number": invoice["number"], "approved_amount": invoice["amount_due"]}


def message(draft: dict, recipients: list[str], options: SendOptions, key: str) -> EmailMessage:
    """The customer's email: plain text and the HTML alternative, from the finance mailbox, with Reply-To and
    List-Unsubscribe (a reply asking to stop reminders: finance opts the customer out)."""
    msg = EmailMessage()
    msg["Subject"] = draft["subject"]
    msg["From"] = options.sender
    msg["To"] = ", ".join(recipients)
    msg["Reply-To"] = options.reply_to
    mailbox = re.sub(r".*<|>.*", "", options.reply_to)
    msg["List-Unsubscribe"] = f"<mailto:{mailbox}?subject=Unsubscribe%20from%20payment%20reminders>"
    msg["Message-ID"] = make_msgid(idstring=key[:16])
    msg["X-AR-Radar-Kind"] = "reminder"
    msg["X-AR-Radar-Key"] = key
    msg.set_content(draft["text_body"])
    msg.add_alternative(draft["html_body"], subtype="html")
    return msg


def send_reminders(
    db_path: Path,
    as_of: date,
    run_id: str,
    approval: Approval,
    options: SendOptions,
    deliver: Callable[[EmailMessage], None],
    xero_now: Callable[[str, list[str]], list[dict]],
    crm_since: Callable[[datetime], list[dict]] | None = None,
    crm_note: Callable[[str, str], str | None] | None = None,
) -> list[Outcome]:
    """Send the day's approved customer reminders that pass every check; log each send and each skip.

    deliver(message): SMTP (raises on failure). xero_now(tenant_id, invoice_ids): Xero's invoices now.
    crm_since(moment): HubSpot notes and tickets changed since then, as {company_id, text, id, kind}.
    crm_note(company_id, text): logs the sent reminder on the company, returns the note id."""
    with database.connect(db_path, read_only=False) as con:
        database.ensure(con, "outreach.reminder_log")
        drafts = [d for d in numbered_drafts(con, as_of) if d["tone"] in TO_CUSTOMER]
        # The auto-send rule's drafts go on their own ("auto"); a person's approval covers the others.
        drafts = [d for d in drafts if bool(d.get("auto_send")) == (approval.decision == "auto")]
        opted = _opted_out(con)
        recent = _recent_sends(con, _business_days_before(as_of, options.cap_business_days))
        sent_before = reminders_sent(con, as_of)
        logged = {
            k: s
            for k, s in con.execute(
                "select send_key, status from outreach.reminder_log where send_key is not null"
            ).fetchall()
        }
    drafted_at = min((d["created_at"] for d in drafts), default=datetime.now(UTC))
    changed = crm_since(drafted_at) if crm_since and drafts else []
    dispute_words = re.compile(str(project_var("dispute_words")))  # read once, not per draft
    outcomes: list[Outcome] = []
    pending: list[tuple[dict, Outcome]] = []
    for draft in drafts:
        out = Outcome(
            draft["number"],
            draft["tenant_id"],
            draft["contact_id"],
            draft["customer_name"],
            "skipped",
            "",
            list(draft["recipients"]) or ([draft["crm_email"]] if draft.get("crm_email") else []),
            draft["invoices"],
            draft["subject"],
            draft["text_body"],
        )
        out.send_key = send_key(
            draft["tenant_id"], draft["contact_id"], as_of, [i["invoice_id"] for i in draft["invoices"]]
        )
        customer = (draft["tenant_id"], draft["contact_id"])
        if logged.get(out.send_key) in ("sent", "sending", "unknown"):
            out.status, out.reason = "duplicate", f"already {logged[out.send_key]} (send key {out.send_key})"
            outcomes.append(out)  # not logged again: the first row stands
            continue
        if approval.decision == "timeout":
            out.reason = "no approval before the timeout: nothing is sent"
        elif approval.decision == "none":
            out.reason = f"the reviewer ({approval.by}) chose to send none"
        elif draft["number"] in approval.excluded:
            out.reason = f"excluded by the reviewer ({approval.by})"
        elif draft.get("opted_out") or customer in opted:
            out.reason = "the customer opted out of reminders"
        elif in_holdout(*customer, options.holdout_percent):
            out.reason = f"in the holdout ({options.holdout_percent} % of customers get no automated reminder)"
        elif customer in recent:
            out.reason = (
                f"frequency cap: a reminder went on {recent[customer].isoformat()}, within "
                f"{options.cap_business_days} business days"
            )
        elif overused := [
            i["number"] for i in draft["invoices"] if sent_before.get(i["invoice_id"], 0) >= MAX_REMINDERS_PER_INVOICE
        ]:
            out.reason = (
                f"{', '.join(overused)} already had {MAX_REMINDERS_PER_INVOICE} reminders: owner review, "
                "not another email"
            )
        elif not out.recipients:
            out.reason = "no email address for the customer in Xero or HubSpot"
        elif reason := _crm_stop(draft, changed, as_of, dispute_words):
            out.reason = reason
        else:
            pending.append((draft, out))
            continue
        outcomes.append(out)
    # Xero, now: one call per 50 invoices per organisation, for the drafts still going.
    by_tenant: dict[str, list[str]] = {}
    for draft, _ in pending:
        by_tenant.setdefault(draft["tenant_id"], []).extend(i["invoice_id"] for i in draft["invoices"])
    current: dict[str, dict] = {}
    for tenant_id, ids in by_tenant.items():
        for invoice in xero_now(tenant_id, sorted(set(ids))):
            current[invoice.get("InvoiceID")] = invoice
    for draft, out in pending:
        out.xero_check = xero_changes(draft, current)
        stale = [c for c in out.xero_check if not c["ok"]]
        if stale:
            out.reason = "changed in Xero since approval: " + "; ".join(f"{c['number']} {c['now']}" for c in stale)
            outcomes.append(out)
            continue
        _send_one(db_path, as_of, run_id, approval, draft, out, options, deliver, crm_note)
        outcomes.append(out)
    _log(db_path, as_of, run_id, approval, [o for o in outcomes if o.status not in ("sent", "failed", "duplicate")])
    for out in outcomes:
        log.info("reminder %d to %s: %s (%s)", out.number, out.customer_name, out.status, out.reason)
    return sorted(outcomes, key=lambda o: o.number)


def _crm_stop(draft: dict, changed: list[dict], as_of: date, words: re.Pattern) -> str | None:
    """A dispute (``words``: dbt's var dispute_words) or a promise to pay logged in HubSpot since drafting, on this
    customer's company."""
    company = draft.get("hubspot_company_id")
    if not company:
        return None
    numbers = [i["number"] for i in draft["invoices"]]
    for item in changed:
        if item["company_id"] != company:
            continue
        text = item["text"] or ""
        if words.search(text.lower()) and (item["kind"] == "note" or any(n in text for n in numbers)):
            return f"HubSpot {item['kind']} {item['id']} since drafting disputes it: resolve it first"
        if item["kind"] == "note" and (promise := find_promise(text, item["logged_at"])):
            if status(promise.promised_for, as_of) == "pending":
                return (
                    f"HubSpot note {item['id']} since drafting promises payment for "
                    f"{promise.promised_for.isoformat()}: not chased until then"
                )
    return None


def _send_one(
    db_path: Path,
    as_of: date,
    run_id: str,
    approval: Approval,
    draft: dict,
    out: Outcome,
    options: SendOptions,
    deliver: Callable[[EmailMessage], None],
    crm_note: Callable[[str, str], str | None] | None,
) -> None:
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    out.status, out.reason = "sending", "approved; Xero unchanged"
    _log(db_path, as_of, run_id, approval, [out])  # before the SMTP call: a crash after it never resends
    msg = message(draft, out.recipients, options, out.send_key)
    try:
        for attempt in Retrying(
            stop=stop_after_attempt(3),
            wait=wait_exponential(multiplier=options.smtp_retry_wait_seconds, max=5),
            retry=retry_if_exception_type(OSError),  # smtplib's errors are OSErrors
            reraise=True,
        ):
            with attempt:
                deliver(msg)
    except OSError as exc:
        out.status, out.reason = "failed", f"SMTP refused after 3 attempts: {type(exc).__name__}: {exc}"[:300]
        _log(db_path, as_of, run_id, approval, [out])
        return
    out.status = "sent"
    if approval.decision == "auto":
        out.reason = f"sent without approval under the {approval.by}: {draft['auto_send']}; Xero unchanged"
    elif approval.at:
        out.reason = f"approved by {approval.by} at {approval.at:%Y-%m-%d %H:%M} UTC; Xero unchanged"
    else:
        out.reason = "approved; Xero unchanged"
    if crm_note and draft.get("hubspot_company_id"):
        numbers = ", ".join(i["number"] for i in draft["invoices"])
        text = f"AR Radar sent a payment reminder ({draft['tone']}) to {', '.join(out.recipients)} about {numbers}."
        try:
            out.hubspot_note_id = crm_note(draft["hubspot_company_id"], text)
        except Exception as exc:  # noqa: BLE001 - the email went: a failed CRM note must not undo that
            log.warning("reminder %d sent, but its HubSpot note failed: %s", out.number, exc)
    _log(db_path, as_of, run_id, approval, [out])


def _log(db_path: Path, as_of: date, run_id: str, approval: Approval, outcomes: list[Outcome]) -> None:
    if not outcomes:
        return
    with database.connect(db_path, read_only=False) as con:
        database.ensure(con, "outreach.reminder_log")
        for out in outcomes:
            if out.status in ("sending", "sent", "failed"):
                con.execute("DELETE FROM outreach.reminder_log WHERE send_key = ?", [out.send_key])
            con.execute(
                """INSERT INTO outreach.reminder_log (as_of_date, run_id, send_key, draft_number, tenant_id,
                       contact_id, customer_name, recipients, invoices, subject, text_body, status, reason,
                       approval, approved_by, approved_at, xero_check, hubspot_note_id, logged_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    as_of,
                    run_id,
                    out.send_key if out.status in ("sending", "sent", "failed") else None,
                    out.number,
                    out.tenant_id,
                    out.contact_id,
                    out.customer_name,
                    json.dumps(out.recipients),
                    json.dumps(out.invoices),
                    out.subject,
                    out.text if out.status in ("sending", "sent") else None,
                    out.status,
                    out.reason,
                    approval.decision,
                    approval.by,
                    approval.at,
                    json.dumps(out.xero_check),
                    out.hubspot_note_id,
                    datetime.now(UTC),
                ],
            )


def opt_out(db_path: Path, tenant_id: str, contact_id: str, note: str, undo: bool = False) -> None:
    """Record (or lift) a customer's opt-out: it then gets no draft and no email."""
    with database.connect(db_path, read_only=False) as con:
        database.ensure(con, "outreach.opt_outs")
        con.execute("DELETE FROM outreach.opt_outs WHERE tenant_id = ? AND contact_id = ?", [tenant_id, contact_id])
        if not undo:
            con.execute(
                "INSERT INTO outreach.opt_outs VALUES (?, ?, ?, ?)", [tenant_id, contact_id, note, datetime.now(UTC)]
            )
