"""What the emails say: the finance team's queue, the owners' data-health alert, the reconnect alert.

``ar_radar.notify.send`` sends each once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ar_radar.actions.cases import ACTIONS
from ar_radar.gate.report import HealthReport
from ar_radar.wording import count

_env = Environment(
    loader=PackageLoader("ar_radar.notify", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["money"] = lambda v: f"{float(v):,.2f}"
_env.globals["count"] = count  # "1 day past due", not "1 days"


@dataclass(frozen=True)
class Email:
    kind: str
    dedupe_key: str
    subject: str
    html: str
    recipients: tuple[str, ...]
    attachments: tuple[Path, ...] = ()


def queue_email(
    queue: dict,
    recipients: tuple[str, ...],
    attachment: Path | None = None,
    drafts: dict[tuple[str, str], dict] | None = None,
    review_page: Path | None = None,
    review_url: str | None = None,
    approval_url: str | None = None,
) -> Email:
    """The day's queue, one row per customer. drafts (``outreach.review.draft_index``): each customer's draft on
    the review page, linked when the output folder is served at review_url, else the page is attached."""
    summary = queue["summary"]
    overdue = " and ".join(f"{c['base_currency']} {c['overdue_amount_base']:,.2f}" for c in summary["by_currency"])
    subject = (
        f"AR Radar action queue {queue['as_of_date']}: {summary['queued']} customers to act on, "
        f"{overdue or 'nothing'} overdue"
    )
    page_url = f"{review_url.rstrip('/')}/{review_page.name}" if review_url and review_page else None
    html = _env.get_template("action_queue_email.html.j2").render(
        queue=queue,
        summary=summary,
        drafts=drafts or {},
        page_url=page_url,
        page_name=review_page.name if review_page else None,
        labels={code: label for code, (label, _) in ACTIONS.items()},
        approval_url=approval_url,
    )
    attachments = tuple(p for p in (attachment, None if page_url else review_page) if p is not None)
    return Email("action_queue", queue["as_of_date"], subject, html, recipients, attachments)


def data_health_alert(
    report: HealthReport, recipients: tuple[str, ...], last_passed: str | None, data_docs_url: str | None = None
) -> Email:
    """One email for the run's critical failures: what, how bad against what is allowed, examples,
    since when, what to do, and the GX Data Docs pages of the failed tables (linked when the site is
    served at data_docs_url, else attached)."""
    failures = report.critical_failures
    signature = "|".join(sorted(f"{c.table}.{c.column}.{c.check}" for c in failures))
    key = f"{report.as_of_date}:{hashlib.sha256(signature.encode()).hexdigest()[:16]}"
    subject = (
        f"AR Radar data-health alert {report.as_of_date}: {len(failures)} critical check(s) failed, "
        "today's scoring stopped"
    )
    tables = list(dict.fromkeys(c.table for c in failures))
    pages = {t: Path(report.data_docs[t]) for t in tables if t in report.data_docs}
    links = {t: _docs_link(data_docs_url, page) for t, page in pages.items()} if data_docs_url else {}
    advice = list(dict.fromkeys(c.advice for c in failures if c.advice))
    html = _env.get_template("data_health_alert.html.j2").render(
        report=report,
        failures=failures,
        warnings=report.warnings,
        last_passed=last_passed,
        advice=advice,
        links=links,
        attached=[] if links else [p.name for p in pages.values() if p.exists()],
    )
    attachments = () if links else tuple(p for p in pages.values() if p.exists())
    return Email("data_health_alert", key, subject, html, recipients, attachments)


def _docs_link(base_url: str, page: Path) -> str:
    """The page's address on the served site: its path below the site's root appended to the base URL."""
    parts = page.parts
    relative = "/".join(parts[parts.index("local_site") + 1 :]) if "local_site" in parts else page.name
    return f"{base_url.rstrip('/')}/{relative}"


def reconnect_alert(message: str, recipients: tuple[str, ...]) -> Email:
    """Xero's refresh token is dead: a person must reconnect. One email a day at most."""
    html = _env.get_template("reconnect_xero.html.j2").render(message=message)
    return Email(
        "reconnect_xero", date.today().isoformat(), "AR Radar: reconnect Xero (extraction stopped)", html, recipients
    )
