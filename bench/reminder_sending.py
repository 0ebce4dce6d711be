"""Benchmark: the send step for about 500 approved reminders: Xero calls against the minimum, and wall time.

    .venv/bin/python bench/reminder_sending.py [--customers 950]

The warehouse of ``bench/reminder_drafts.py`` (two organisations of ``--customers`` customers each), drafted from
the templates, every customer email approved, then ``outreach.sending.send_reminders`` against the sandboxes:
Xero (the official SDK, the organisation's real limits: 60 calls a minute, 5 in flight), HubSpot, and a local
SMTP server. The minimum number of Xero calls is one per 50 invoice ids per organisation.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import smtplib
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from reminder_drafts import AS_OF, build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=950)
    args = parser.parse_args()
    from ar_radar.extract.connections import connection_from_env
    from ar_radar.extract.xero import XeroApi, token_store_path
    from ar_radar.local.sandbox.demo_company import generate_demo_company
    from ar_radar.local.sandbox.server import Sandbox
    from ar_radar.local.smtp_sink import SmtpSink
    from ar_radar.outreach import sending
    from ar_radar.outreach.crm_activity import CrmActivity
    from ar_radar.outreach.drafts import draft_reminders

    print(f"{platform.platform()} · {os.cpu_count()} CPUs · {date.today()} · Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        db = build(Path(tmp), args.customers)
        drafts = [d for d in draft_reminders(db, AS_OF, "bench", None) if d.to_customer]
        companies = [
            generate_demo_company(
                seed=70 + i, as_of=AS_OF, n_customers=args.customers, years=1, name=f"Bench {i + 1} Ltd"
            )
            for i in range(2)
        ]
        with Sandbox(as_of=AS_OF, companies=companies) as box, SmtpSink() as sink:
            os.environ.update(box.airflow_connections())
            xero_conn = connection_from_env("xero_default")
            xero = XeroApi(xero_conn, token_store_path(xero_conn, Path(tmp) / "state"))
            crm = CrmActivity(connection_from_env("hubspot_default"))

            def deliver(message: object) -> None:
                with smtplib.SMTP(sink.host, sink.port) as client:
                    client.send_message(message)

            options = sending.SendOptions("Bench <ar@bench.example>", "ar@bench.example", smtp_retry_wait_seconds=0.1)
            before = box.xero_app.config["calls"]["calls"]
            started = time.perf_counter()
            outcomes = sending.send_reminders(
                db,
                AS_OF,
                "bench",
                sending.Approval("send", by="bench"),
                options,
                deliver,
                xero.invoices_by_id,
                crm.changed_since,
                crm.note_on_company,
            )
            seconds = time.perf_counter() - started
            calls = box.xero_app.config["calls"]["calls"] - before
        per_org: dict[str, int] = {}
        for draft in drafts:
            per_org[draft.tenant_id] = per_org.get(draft.tenant_id, 0) + len(draft.invoices)
        minimum = sum(math.ceil(n / 50) for n in per_org.values())
        sent = sum(o.status == "sent" for o in outcomes)
        print(
            f"{len(drafts)} approved emails, {sum(per_org.values())} invoices, {len(per_org)} organisations: "
            f"{sent} sent in {seconds:.1f} s; Xero calls {calls} (minimum {minimum})"
        )


if __name__ == "__main__":
    main()
