from collections import Counter
from datetime import date
from decimal import Decimal

from ar_radar.local.sandbox.demo_company import generate_demo_company
from ar_radar.local.sandbox.faults import apply_fault

AS_OF = date(2026, 11, 20)


def test_same_seed_same_company_and_other_seed_differs():
    a, b = generate_demo_company(seed=7, as_of=AS_OF), generate_demo_company(seed=7, as_of=AS_OF)
    assert a.invoices == b.invoices and a.hubspot == b.hubspot
    assert generate_demo_company(seed=8, as_of=AS_OF).invoices != a.invoices


def test_company_has_the_behaviours_the_pipeline_must_handle():
    company = generate_demo_company(as_of=AS_OF)
    assert 55 <= len(company.customers) <= 65
    profiles = Counter(c.profile for c in company.customers)
    assert {"reliable", "chronic", "drifting"} <= set(profiles)
    states = Counter(t["state"] for t in company.truth.values())
    assert states["paid"] > 1000 and states["open"] > 20 and states["voided"] > 0 and states["bill"] > 0
    assert company.open_overdue_invoice_numbers()
    assert {c.currency for c in company.customers} == {"GBP", "EUR"}
    sales = [i for i in company.invoices if i["Type"] == "ACCREC"]
    first, last = min(i["Date"] for i in sales), max(i["Date"] for i in sales)
    assert (last - first).days > 650  # two years of history
    partial = [i for i in sales if i["Status"] == "AUTHORISED" and i["AmountPaid"] > 0]
    assert partial, "some open invoices are partly paid"
    assert company.credit_notes and company.overpayments and company.prepayments
    assert any(t["disputed"] for t in company.truth.values() if "disputed" in t)


def test_amounts_reconcile_on_every_invoice():
    company = generate_demo_company(as_of=AS_OF)
    for inv in company.invoices:
        if inv["Type"] != "ACCREC" or inv["Status"] in ("VOIDED", "DRAFT"):
            continue
        assert inv["Total"] - inv["AmountPaid"] - inv["AmountCredited"] == inv["AmountDue"]
        assert sum((p["Amount"] for p in inv["Payments"]), Decimal(0)) == inv["AmountPaid"]
        assert (inv["Status"] == "PAID") == (inv["AmountDue"] == 0)


def test_nothing_happens_after_as_of():
    company = generate_demo_company(as_of=AS_OF)
    assert max(p["Date"] for p in company.payments) <= AS_OF
    assert max(i["UpdatedDateUTC"].date() for i in company.invoices) <= AS_OF


def test_hubspot_matches_most_but_not_all_customers_and_not_always_by_the_same_key():
    company = generate_demo_company(as_of=AS_OF)
    in_crm = [c for c in company.customers if c.hubspot_company_id]
    assert 0.7 * len(company.customers) <= len(in_crm) < len(company.customers)
    names = {o["id"]: o["properties"]["name"] for o in company.hubspot["companies"]}
    assert any(names[c.hubspot_company_id] != c.name for c in in_crm)
    assert any(names[c.hubspot_company_id] == c.name for c in in_crm)


def test_troubled_customers_get_worse_notes_than_reliable_ones():
    company = generate_demo_company(as_of=AS_OF)
    by_company = {c.hubspot_company_id: c.profile for c in company.customers if c.hubspot_company_id}
    bad_words = ("tight", "no reply", "unhappy", "did not arrive")

    def bad_share(profile: str) -> float:
        notes = [n for n in company.hubspot["notes"] if by_company.get(n["_associations"]["companies"][0]) == profile]
        return sum(any(w in n["properties"]["hs_note_body"] for w in bad_words) for n in notes) / len(notes)

    assert bad_share("chronic") > bad_share("reliable") + 0.3


def test_corrupt_invoices_fault_damages_open_invoices_only():
    company = generate_demo_company(as_of=AS_OF)
    hit = apply_fault(company, "corrupt_invoices")
    damaged = [i for i in company.invoices if i["InvoiceID"] in set(hit)]
    assert damaged and all(i["AmountDue"] < 0 and i["CurrencyCode"] == "" for i in damaged)


def test_large_companies_get_unique_names():
    company = generate_demo_company(seed=9, as_of=AS_OF, n_customers=600, years=1)
    assert len({c.name for c in company.customers}) == 600
