"""Invoice histories made by code, in the backtest's CSV format."""

from __future__ import annotations

import random
from datetime import date, timedelta


def write_history(path, customers: int = 80, months: int = 24, seed: int = 3) -> None:
    """Customers with their own lateness habit; disputed invoices are paid much later; the newest are open."""
    rng = random.Random(seed)
    start, end = date(2024, 11, 1), date(2026, 11, 1)
    lines = ["customer_id,invoice_id,invoice_date,due_date,amount,paid_date,disputed,currency"]
    number = 0
    for c in range(customers):
        habit = rng.choice([-3, 0, 2, 12, 25])  # typical days paid after due
        currency = rng.choice(["GBP", "EUR"])
        day = start + timedelta(days=rng.randint(0, 20))
        while day < end:
            number += 1
            due = day + timedelta(days=30)
            disputed = rng.random() < 0.08
            late = habit + rng.gauss(0, 4) + (45 if disputed else 0)
            paid = due + timedelta(days=round(late))
            paid_text = paid.isoformat() if paid < end else ""
            amount = round(rng.lognormvariate(7, 0.6), 2)
            lines.append(f"C{c},I{number},{day},{due},{amount},{paid_text},{int(disputed)},{currency}")
            day += timedelta(days=rng.randint(10, 40))
    path.write_text("\n".join(lines) + "\n")
