"""Fault modes the sandbox can serve, so tests can prove the pipeline notices bad source data."""

from __future__ import annotations

import random
from decimal import Decimal

from ar_radar.local.sandbox.demo_company import DemoCompany

FAULTS = ("corrupt_invoices",)


def apply_fault(company: DemoCompany, fault: str, seed: int = 7) -> list[str]:
    """Mutate ``company`` in place; return the affected invoice ids.

    ``corrupt_invoices``: a fifth of open sales invoices lose their currency code and get a
    negative amount due, the kind of damage a broken integration or a bad import leaves behind.
    """
    if fault not in FAULTS:
        raise ValueError(f"unknown sandbox fault {fault!r}; choose from {', '.join(FAULTS)}")
    rng = random.Random(seed)
    targets = [i for i in company.invoices if i["Type"] == "ACCREC" and i["Status"] == "AUTHORISED"]
    hit = rng.sample(targets, max(1, len(targets) // 5))
    for invoice in hit:
        invoice["CurrencyCode"] = ""
        invoice["AmountDue"] = -invoice["AmountDue"] - Decimal("1")
    return [i["InvoiceID"] for i in hit]
