"""Seeded random days: each day a random mix of the changes Xero and HubSpot send (invoices paid, corrected, re-dated,
voided, moved to another customer or new; payments amended, re-dated, deleted or moved; credits re-allocated; older
versions loaded late; contacts, companies, notes, tickets and deals edited; companies and HubSpot contacts given a
Xero contact's name, domain or email, and the reverse), with as_of_date moving on by a random
step (the same day, the next, or across a month end). After every day the incremental build must equal a full rebuild
of the same raw data, table by table, and the incremental data-health gate must give the results of a full
validation. The hand-written days (test_incremental.py here, tests/gate/test_incremental.py) pin each rule; these
find the combinations no one wrote down. AR_RADAR_RANDOM_DAYS_SEEDS=1,2,3 runs other seeds (CI runs the default)."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from datetime import date, timedelta

import duckdb
import pytest
from ar_radar.gate.validate import validate
from ar_radar.local.sandbox.wire import guid_sql
from ar_radar.raw.store import record_key_sql
from ar_radar.warehouse.build import build_warehouse

from tests.conftest import AS_OF, copy_of
from tests.gate.test_incremental import _gate, _results
from tests.warehouse.test_incremental import _full_rebuild_beside, _tables_differing

pytestmark = pytest.mark.pipeline

SEEDS = [int(s) for s in os.environ.get("AR_RADAR_RANDOM_DAYS_SEEDS", "17").split(",")]
DAYS = 4
STEPS = (0, 1, 1, 2, 13, 33)  # days as_of_date moves between two builds

# A new version of up to `limit` records of raw.{table}_current chosen by `where`, in an order the salt shuffles.
# `shift` is added to extracted_at: a later extraction wins, an earlier one loaded late must not.
NEW_VERSION = """
    insert into raw.{table}
    select source, entity, tenant_id, {record_id}, updated_at, record_hash || '-{tag}', 'run-{tag}',
           extracted_at + interval '{shift}', {payload}, now(), {record_key}
    from raw.{table}_current as r where {where}
    order by hash(tenant_id, record_id, '{tag}') limit {limit}
"""


def _xero_date(sql_date: str) -> tuple[str, str]:
    """A SQL date expression as Xero's two date fields' values: (/Date(ms+0000)/, yyyy-mm-ddT00:00:00)."""
    return (
        f"'/Date(' || epoch_ms(cast({sql_date} as timestamp)) || '+0000)/'",
        f"strftime({sql_date}, '%Y-%m-%dT00:00:00')",
    )


def _dated(field: str, sql_date: str) -> str:
    """json_object arguments setting Xero's date `field` and its String twin to `sql_date`."""
    value, string = _xero_date(sql_date)
    return f"'{field}', {value}, '{field}String', {string}"


def _shifted(field: str, days: int) -> str:
    return _dated(field, f"cast(left(payload->>'{field}String', 10) as date) + {days}")


OPEN = "payload->>'Type' = 'ACCREC' and payload->>'Status' = 'AUTHORISED'"
SALES = "payload->>'Type' = 'ACCREC' and payload->>'Status' in ('AUTHORISED', 'PAID')"
ALLOCATED = "json_array_length(coalesce(payload->'Allocations', '[]')) > 0"
# Another record of the same organisation, chosen by the salt.
ANY_INVOICE = """(select max(i.record_id) from raw.xero_invoices_current as i
    where i.tenant_id = r.tenant_id and hash(i.record_id, '{tag}') % 7 = 0)"""
ANY_CONTACT = """(select min(c.record_id) from raw.xero_contacts_current as c
    where c.tenant_id = r.tenant_id and hash(c.record_id, '{tag}') % 5 = 0)"""


class Day:
    """One day's new raw versions, written into an open connection to the warehouse file."""

    def __init__(self, con: duckdb.DuckDBPyConnection, day: date, index: int, rng: random.Random) -> None:
        self.con, self.day, self.index, self.rng = con, day, index, rng
        self.log: list[str] = []

    def versions(
        self,
        table: str,
        where: str,
        patch: str,
        kind: str,
        limit: int,
        shift: str = "1 day",
        record_id: str = "record_id",
    ) -> None:
        tag = f"d{self.index}-{kind}"
        self.con.execute(
            NEW_VERSION.format(
                table=table,
                where=where.format(tag=tag),
                payload=f"json_merge_patch(payload, {patch.format(tag=tag)})",
                tag=tag,
                limit=limit,
                shift=shift,
                record_id=record_id.format(tag=tag),
                record_key=record_key_sql(record_id=record_id.format(tag=tag)),
            )
        )
        self.log.append(f"{kind} x{limit}")

    # --- invoices
    def invoices_paid(self, n: int) -> None:
        """Open invoices paid in full by a new payment dated on the day or up to 3 days before."""
        paid_on = f"date '{self.day}' - {self.rng.randint(0, 3)}"
        tag = f"d{self.index}-paid"
        invoices = self.con.execute(
            f"select tenant_id, record_id, try_cast(payload->>'AmountDue' as double) from raw.xero_invoices_current "
            f"where {OPEN} and cast(left(payload->>'DateString', 10) as date) <= {paid_on} "
            f"order by hash(tenant_id, record_id, '{tag}') limit {n}"
        ).fetchall()
        value, _ = _xero_date(paid_on)
        for tenant_id, invoice_id, amount_due in invoices:
            self.versions(
                "xero_invoices",
                f"tenant_id = '{tenant_id}' and record_id = '{invoice_id}'",
                f"json_object('Status', 'PAID', 'AmountDue', 0, 'FullyPaidOnDate', {value})",
                f"paid-{invoice_id[:8]}",
                1,
            )
            self.versions(
                "xero_payments",
                f"tenant_id = '{tenant_id}' and record_id = (select max(record_id) from raw.xero_payments_current "
                f"where tenant_id = '{tenant_id}')",
                f"""json_object('Invoice', json_object('InvoiceID', '{invoice_id}'), 'Status', 'AUTHORISED',
                    'Amount', {amount_due}, {_dated("Date", paid_on)})""",
                f"payment-{invoice_id[:8]}",
                1,
                record_id=guid_sql("record_id || '-{tag}'"),
            )

    def invoices_total_corrected(self, n: int) -> None:
        self.versions(
            "xero_invoices", SALES, "json_object('Total', try_cast(payload->>'Total' as double) + 10)", "total", n
        )

    def invoices_due_moved(self, n: int) -> None:
        moved = _shifted("DueDate", self.rng.choice([-20, 9, 45]))
        self.versions("xero_invoices", SALES, f"json_object({moved})", "due", n)

    def invoices_redated(self, n: int) -> None:
        redated = _shifted("Date", self.rng.choice([-40, 3, 30]))
        self.versions("xero_invoices", SALES, f"json_object({redated})", "date", n)

    def invoices_voided(self, n: int) -> None:
        status = self.rng.choice(["VOIDED", "DELETED"])
        self.versions("xero_invoices", OPEN, f"json_object('Status', '{status}')", "void", n)

    def invoices_moved(self, n: int) -> None:
        self.versions(
            "xero_invoices", SALES, f"json_object('Contact', json_object('ContactID', {ANY_CONTACT}))", "moved", n
        )

    def invoices_new(self, n: int) -> None:
        """New invoices (new ids) dated on the day, or ahead of it (Xero allows it; they count once reached)."""
        dated = f"date '{self.day}' + {self.rng.choice([0, 0, 5])}"
        self.versions(
            "xero_invoices",
            OPEN,
            f"json_object('Status', 'AUTHORISED', {_dated('Date', dated)}, {_dated('DueDate', dated + ' + 30')})",
            "new",
            n,
            record_id=guid_sql("record_id || '-{tag}'"),
        )

    def invoices_older_loaded_late(self, n: int) -> None:
        """A version extracted a month before the newest, loaded now: it must never win."""
        self.versions(
            "xero_invoices", SALES, "json_object('AmountDue', 12345.67, 'Total', 1)", "stale", n, shift="-30 day"
        )

    def invoices_amount_due(self, n: int) -> None:
        due = "json_object('AmountDue', round(try_cast(payload->>'AmountDue' as double) / 2, 2))"
        self.versions("xero_invoices", OPEN, due, "amount-due", n)

    def invoices_reference(self, n: int) -> None:
        self.versions("xero_invoices", "true", "json_object('Reference', 'edited {tag}')", "reference", n)

    def invoices_failing_checks(self, n: int) -> None:
        """Values the data-health gate flags (its row checks read the changed rows only)."""
        bad = self.rng.choice(
            ["json_object('AmountDue', -5)", "json_object('CurrencyCode', 'XXX')", "json_object('CurrencyCode', null)"]
        )
        self.versions("xero_invoices", SALES, bad, "bad", n)

    def invoices_fixed(self, n: int) -> None:
        """Invoices the gate flagged, corrected: their failures must leave the kept verdicts."""
        usual = """(select mode(i.payload->>'CurrencyCode') from raw.xero_invoices_current as i
            where i.tenant_id = r.tenant_id)"""
        fixed = f"json_object('AmountDue', abs(try_cast(payload->>'AmountDue' as double)), 'CurrencyCode', {usual})"
        flagged = "try_cast(payload->>'AmountDue' as double) < 0 or coalesce(payload->>'CurrencyCode', 'XXX') = 'XXX'"
        self.versions("xero_invoices", flagged, fixed, "fixed", n)

    # --- payments
    def payments_amended(self, n: int) -> None:
        self.versions(
            "xero_payments", "true", "json_object('Amount', try_cast(payload->>'Amount' as double) + 1)", "amount", n
        )

    def payments_refunded(self, n: int) -> None:
        self.versions("xero_payments", "true", "json_object('Amount', -3)", "refund", n)

    def payments_deleted(self, n: int) -> None:
        self.versions("xero_payments", "payload->>'Status' <> 'DELETED'", "json_object('Status', 'DELETED')", "del", n)

    def payments_redated(self, n: int) -> None:
        redated = _shifted("Date", self.rng.choice([-15, 2, 40]))
        self.versions("xero_payments", "true", f"json_object({redated})", "pd", n)

    def payments_moved(self, n: int) -> None:
        self.versions(
            "xero_payments", "true", f"json_object('Invoice', json_object('InvoiceID', {ANY_INVOICE}))", "pmove", n
        )

    # --- credits
    def credits_unallocated(self, n: int) -> None:
        table = self.rng.choice(["xero_credit_notes", "xero_overpayments", "xero_prepayments"])
        self.versions(table, ALLOCATED, "json_object('Allocations', json_array())", "unalloc", n)

    def credits_reallocated(self, n: int) -> None:
        dated = _dated("Date", f"date '{self.day}'")
        moved = f"""json_object('Allocations', json_array(json_merge_patch(payload->'Allocations'->0,
            json_object('Invoice', json_object('InvoiceID', {ANY_INVOICE}), {dated}))))"""
        self.versions("xero_credit_notes", ALLOCATED, moved, "realloc", n)

    def credits_voided(self, n: int) -> None:
        self.versions("xero_credit_notes", "true", "json_object('Status', 'VOIDED')", "cnvoid", n)

    # --- contacts and HubSpot
    def contacts_edited(self, n: int) -> None:
        edit = self.rng.choice(
            [
                "json_object('EmailAddress', 'billing-{tag}@example.com')",
                "json_object('Name', 'Renamed Trading {tag}')",
            ]
        )
        self.versions("xero_contacts", "true", edit, "contact", n)

    def companies_renamed(self, n: int) -> None:
        renamed = """json_object('properties', json_object('name', 'Renamed Holdings ' || record_id,
            'domain', record_id || '.renamed.example'))"""
        self.versions("hubspot_companies", "true", renamed, "company", n)

    def hubspot_contacts_edited(self, n: int) -> None:
        email = "json_object('properties', json_object('email', 'x-{tag}@example.org'))"
        self.versions("hubspot_contacts", "true", email, "hc", n)

    # Changes that give a Xero contact a match or a second candidate (the ones above take matches away).
    def companies_take_a_customers_name(self, n: int) -> None:
        """A company renamed to a Xero contact's name, with a suffix the normalised name ignores."""
        name = """(select min(c.payload->>'Name') || ' Ltd' from raw.xero_contacts_current as c
            where hash(c.record_id, r.record_id, '{tag}') % 23 = 0)"""
        self.versions(
            "hubspot_companies", "true", f"json_object('properties', json_object('name', {name}))", "cname", n
        )

    def companies_take_another_domain(self, n: int) -> None:
        """A company given another company's domain (two candidates) or a Xero contact's email domain."""
        other = self.rng.choice(
            [
                """(select min(o.payload->'properties'->>'domain') from raw.hubspot_companies_current as o
                    where hash(o.record_id, r.record_id, '{tag}') % 23 = 0)""",
                """(select min(split_part(c.payload->>'EmailAddress', '@', 2)) from raw.xero_contacts_current as c
                    where hash(c.record_id, r.record_id, '{tag}') % 23 = 0)""",
            ]
        )
        self.versions(
            "hubspot_companies", "true", f"json_object('properties', json_object('domain', {other}))", "cdom", n
        )

    def hubspot_contacts_take_a_customers_email(self, n: int) -> None:
        """A HubSpot contact given a Xero contact's email (the contact-email rule, which comes first)."""
        email = """(select min(upper(c.payload->>'EmailAddress')) from raw.xero_contacts_current as c
            where hash(c.record_id, r.record_id, '{tag}') % 23 = 0)"""
        self.versions("hubspot_contacts", "true", f"json_object('properties', json_object('email', {email}))", "hcx", n)

    def contacts_take_a_hubspot_email(self, n: int) -> None:
        """A Xero contact given a HubSpot contact's email."""
        email = """(select min(h.payload->'properties'->>'email') from raw.hubspot_contacts_current as h
            where hash(h.record_id, r.record_id, '{tag}') % 23 = 0)"""
        self.versions("xero_contacts", "true", f"json_object('EmailAddress', {email})", "xch", n)

    def notes_edited(self, n: int) -> None:
        body = self.rng.choice(
            [
                "<p>They will pay by Friday.</p>",
                "<p>Customer disputes the amount on the last invoice.</p>",
                "<p>Called, no answer.</p>",
                "<p>Promised payment next week, very happy with the service.</p>",
            ]
        )
        stamp = f"strftime(date '{self.day}' - {self.rng.randint(0, 200)}, '%Y-%m-%dT10:00:00.000Z')"
        self.versions(
            "hubspot_notes",
            "true",
            f"json_object('properties', json_object('hs_note_body', '{body}', 'hs_timestamp', {stamp}))",
            "note",
            n,
        )

    def notes_new(self, n: int) -> None:
        self.versions(
            "hubspot_notes",
            "true",
            f"""json_object('id', record_id || '-{{tag}}', 'properties', json_object(
                'hs_note_body', '<p>They promised payment by the end of the month.</p>',
                'hs_timestamp', strftime(date '{self.day}', '%Y-%m-%dT09:00:00.000Z')))""",
            "newnote",
            n,
            record_id=guid_sql("record_id || '-{tag}'"),
        )

    def tickets_edited(self, n: int) -> None:
        stage = self.rng.choice(["1", "4"])
        content = "'Customer disputes invoice amount'" if stage == "1" else "'Resolved'"
        self.versions(
            "hubspot_tickets",
            "true",
            f"json_object('properties', json_object('hs_pipeline_stage', '{stage}', 'content', {content}))",
            "ticket",
            n,
        )

    def deals_edited(self, n: int) -> None:
        self.versions(
            "hubspot_deals",
            "true",
            "json_object('properties', json_object('dealstage', 'closedwon', 'amount', '999.00'))",
            "deal",
            n,
        )


CHANGES: list[Callable[[Day, int], None]] = [
    Day.invoices_paid,
    Day.invoices_total_corrected,
    Day.invoices_due_moved,
    Day.invoices_redated,
    Day.invoices_voided,
    Day.invoices_moved,
    Day.invoices_new,
    Day.invoices_older_loaded_late,
    Day.invoices_amount_due,
    Day.invoices_reference,
    Day.invoices_failing_checks,
    Day.invoices_fixed,
    Day.payments_refunded,
    Day.payments_amended,
    Day.payments_deleted,
    Day.payments_redated,
    Day.payments_moved,
    Day.credits_unallocated,
    Day.credits_reallocated,
    Day.credits_voided,
    Day.contacts_edited,
    Day.companies_renamed,
    Day.hubspot_contacts_edited,
    Day.companies_take_a_customers_name,
    Day.companies_take_another_domain,
    Day.hubspot_contacts_take_a_customers_email,
    Day.contacts_take_a_hubspot_email,
    Day.notes_edited,
    Day.notes_new,
    Day.tickets_edited,
    Day.deals_edited,
]


def _differing_from_full_rebuild(settings, folder, day) -> dict[str, tuple[int, int]]:  # noqa: ANN001
    folder.mkdir()
    full = _full_rebuild_beside(settings, folder, day)
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        differing = _tables_differing(con, full)
    shutil.rmtree(folder)
    return differing


def _gate_differs_from_a_full_validation(settings, day, run_id) -> list[dict]:  # noqa: ANN001
    """The daily gate (changed rows only, its verdicts kept for the next day) against a full validation of the same
    warehouse: the checks whose results differ."""
    daily = _gate(settings, run_id, day=day)
    assert {s.since is not None for s in daily.row_states} == {True}  # it did read only the changed rows
    full = validate(settings.db_path, settings.gx_root, f"{run_id}-full", day, full=True)
    return [a for a, b in zip(_results(daily), _results(full), strict=True) if a != b]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_days_equal_a_full_rebuild_after_every_day(warehouse, tmp_path, seed):
    rng = random.Random(seed)
    settings = copy_of(warehouse, tmp_path / "incremental")
    day = AS_OF
    _gate(settings, "day-0", day=day)  # keeps the verdicts the next days start from
    for index in range(1, DAYS + 1):
        day += timedelta(days=rng.choice(STEPS))
        with duckdb.connect(str(settings.db_path)) as con:
            changes = Day(con, day, index, rng)
            for change in rng.sample(CHANGES, k=12):
                change(changes, rng.randint(1, 4))
        summary = build_warehouse(settings, day)
        assert summary.full_refresh is False, summary.reason
        differing = _differing_from_full_rebuild(settings, tmp_path / f"full-{index}", day)
        assert differing == {}, f"seed {seed}, day {index} ({day}): {'; '.join(changes.log)}"
        gate = _gate_differs_from_a_full_validation(settings, day, f"day-{index}")
        assert gate == [], f"seed {seed}, day {index} ({day}): {'; '.join(changes.log)}"
