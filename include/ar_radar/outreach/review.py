"""The reviewer's page: every draft of a day with its evidence (the customer's history, the cause and the notes it
cites), its guardrail results and why it fell back, written beside the queue as
``<data>/output/reminder_drafts_<as_of>.html``. The queue email links each customer's draft on it.
"""

from __future__ import annotations

import html
import json
import os
import re
from datetime import date
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ar_radar import database

_env = Environment(
    loader=PackageLoader("ar_radar.outreach", "templates"),
    autoescape=select_autoescape(["html.j2"]),  # customer names and CRM text are untrusted: escaped
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# The order drafts are numbered in, here, in the email and in the approval (one definition: the numbers match).
DRAFT_ORDER = """
    order by case tone when 'owner_review' then 0 when 'escalation_note' then 1 when 'direct' then 2
                       when 'light' then 3 else 4 end, customer_name, tenant_id, contact_id
"""
# Each draft with what sending needs from the customer's profile (the profile may not exist in a bare warehouse).
DRAFTS = (
    """
    select d.*, p.opted_out, p.hubspot_company_id, p.crm_email
    from outreach.reminder_drafts d
    left join marts.customer_outreach_profiles p using (tenant_id, contact_id)
    where d.as_of_date = ?
"""
    + DRAFT_ORDER
)


def anchor(tenant_id: str, contact_id: str) -> str:
    return f"draft-{tenant_id[:8]}-{contact_id}"


def page_name(as_of: date | str) -> str:
    return f"reminder_drafts_{as_of}.html"


def numbered_drafts(con: object, as_of: date | str) -> list[dict]:
    """The day's drafts in review order, numbered from 1 (the numbers the email and the approval use), with their
    JSON columns read."""
    found = database.rows(con, DRAFTS, [as_of])
    for number, row in enumerate(found, start=1):
        for column in ("recipients", "invoices", "guardrail_results", "flags", "summary"):
            row[column] = json.loads(row[column]) if row[column] else ([] if column != "summary" else {})
        row["number"] = number
        row["anchor"] = anchor(row["tenant_id"], row["contact_id"])
    return found


def _drafts(db_path: Path, as_of: date | str) -> list[dict]:
    with database.connect(db_path, read_only=True) as con:
        if not database.has_table(con, "outreach.reminder_drafts"):
            return []
        return numbered_drafts(con, as_of)


def draft_index(db_path: Path, as_of: date | str) -> dict[tuple[str, str], dict]:
    """Per customer: its draft's number and anchor on the review page, subject, tone and writer."""
    return {
        (d["tenant_id"], d["contact_id"]): {
            k: d[k] for k in ("number", "anchor", "subject", "tone", "generator", "fallback_reason", "flags")
        }
        for d in _drafts(db_path, as_of)
    }


def write_review_page(db_path: Path, as_of: date, output_dir: Path) -> Path:
    """Write (atomically; a re-run replaces it) the day's review page and return its path."""
    drafts = _drafts(db_path, as_of)
    html = _env.get_template("review_page.html.j2").render(as_of=as_of.isoformat(), drafts=drafts)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / page_name(as_of)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~])")


def _md(text: object) -> str:
    """Untrusted text made inert in the approval's Markdown: HTML escaped, Markdown's marks backslashed."""
    return _MARKDOWN.sub(r"\\\1", html.escape(" ".join(str(text or "").split())))


def approval_body(db_path: Path, as_of: date, review_link: str | None = None) -> str:
    """The approval request's Markdown: each customer email of the day by number, with its invoices, risk,
    customer summary, writer and guardrail results; internal notes listed apart (they are never sent)."""
    drafts = _drafts(db_path, as_of)
    to_customers = [d for d in drafts if d["tone"] in ("light", "direct", "upcoming")]
    emails = [d for d in to_customers if not d.get("auto_send")]
    automatic = [d for d in to_customers if d.get("auto_send")]
    lines = [
        f"**{len(emails)} customer reminder(s)** drafted for {as_of.isoformat()}. Choose *Send the approved drafts* "
        "to send them all, or list draft numbers under *exclude* to leave some out; *Send none* sends nothing, and "
        "so does no answer before the timeout. Each one is checked against Xero again just before it goes.",
        "",
    ]
    if review_link:
        lines += [f"Full drafts with their evidence: {review_link}", ""]
    for d in emails:
        invoices = "; ".join(f"{_md(i['number'])} {_md(i['amount'])} due {_md(i['due'])}" for i in d["invoices"])
        summary = d["summary"] or {}
        cause = str(summary.get("cause", "unknown")).replace("_", " ")
        lines.append(
            f"{d['number']}. **{_md(d['customer_name'])}** ({_md(d['tone'])}, to {_md(', '.join(d['recipients']))}): "
            f"{invoices}. Likely cause: {_md(cause)}. Written by {_md(d['generator'])}"
            + (f"; guardrails: {_md('; '.join(d['guardrail_results']))}" if d["guardrail_results"] else "")
            + (f"; flags: {_md('; '.join(d['flags']))}" if d["flags"] else "")
            + f". Subject: {_md(d['subject'])}"
        )
    internal = [d for d in drafts if d not in to_customers]
    for group, what, after in (
        (
            automatic,
            "Sent without approval under the auto-send rule (AR_RADAR_AUTO_SEND_UNDER)",
            " They pass the same checks against Xero and HubSpot before they go.",
        ),
        (internal, "Internal notes (never sent to customers)", ""),
    ):
        if group:
            lines += ["", f"{what}: {len(group)}, numbered {', '.join(str(d['number']) for d in group)}.{after}"]
    return "\n".join(lines)
