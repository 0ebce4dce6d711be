"""The report's charts as PNG bytes (matplotlib's Agg canvas, no pyplot state: safe beside other tasks). Email
clients block SVG and scripts, so the email embeds these by Content-ID, each with alt text and its numbers in a
table beside it."""

from __future__ import annotations

import io
from dataclasses import dataclass

from matplotlib.figure import Figure

from ar_radar.weekly_report.figures import WeeklyReport

INK, MUTED, ACCENT, WARN = "#1f2a37", "#8a94a6", "#2563eb", "#c2410c"


@dataclass(frozen=True)
class Chart:
    cid: str  # the Content-ID the HTML refers to (without <>)
    png: bytes
    alt: str


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _axes(fig: Figure):  # noqa: ANN202 - matplotlib Axes
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors=INK, labelsize=8)
    return ax


def aging_chart(report: WeeklyReport) -> Chart:
    rows = report.buckets.get("collections", [])
    fig = Figure(figsize=(6, 2.6))
    ax = _axes(fig)
    labels = [r["bucket"] for r in rows]
    values = [r["amount"] for r in rows]
    colours = [MUTED if r["bucket"] == "not yet due" else WARN if i >= 3 else ACCENT for i, r in enumerate(rows)]
    bars = ax.bar(labels, values, color=colours)
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=8, color=INK)
    ax.set_ylabel(report.base_currency, fontsize=8, color=INK)
    ax.set_title(f"Owed by days overdue ({report.base_currency})", fontsize=10, color=INK, loc="left")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    alt = "Owed by days overdue: " + "; ".join(f"{r['bucket']} {report.base_currency} {r['amount']:,.2f}" for r in rows)
    return Chart(f"aging-{report.tenant_id[:8]}", _png(fig), alt)


def trend_chart(report: WeeklyReport) -> Chart:
    rows = [m for m in report.monthly if m["is_complete_month"]]  # a month so far would read as a sudden drop
    fig = Figure(figsize=(6, 2.6))
    ax = _axes(fig)
    months = [r["month_start"] for r in rows]
    ax.plot(months, [r["dso_standard_days"] for r in rows], color=ACCENT, marker="o", ms=3, label="DSO (days)")
    ax.plot(months, [r["dso_countback_days"] for r in rows], color=MUTED, marker="o", ms=3, label="DSO countback")
    cei = ax.twinx()
    cei.plot(months, [r["cei_percent"] for r in rows], color=WARN, ls="--", marker="s", ms=3, label="CEI (%)")
    cei.tick_params(colors=INK, labelsize=8)
    cei.spines["top"].set_visible(False)
    cei.set_ylim(0, 100)
    if report.started_on and months and months[0] <= report.started_on:
        ax.axvline(report.started_on, color=INK, lw=1, ls=":")
        ax.annotate("AR Radar started", (report.started_on, ax.get_ylim()[1]), fontsize=7, color=INK, ha="right")
    ax.set_title("DSO and collection effectiveness, by complete month", fontsize=10, color=INK, loc="left")
    handles = ax.get_legend_handles_labels()
    more = cei.get_legend_handles_labels()
    ax.legend(
        handles[0] + more[0],
        handles[1] + more[1],
        fontsize=7,
        frameon=False,
        ncol=3,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.28),
    )
    fig.autofmt_xdate()
    alt = "DSO and CEI by complete month: " + "; ".join(
        f"{r['month_start']:%b %Y} DSO {_num(r['dso_standard_days'])} days, CEI {_num(r['cei_percent'])} %"
        for r in rows
    )
    return Chart(f"trend-{report.tenant_id[:8]}", _png(fig), alt)


def cash_chart(report: WeeklyReport) -> Chart:
    rows = report.weekly_cash
    fig = Figure(figsize=(6, 2.6))
    ax = _axes(fig)
    x = list(range(len(rows)))
    ax.bar([i - 0.2 for i in x], [r["expected"] or 0 for r in rows], width=0.4, color=MUTED, label="expected")
    ax.bar([i + 0.2 for i in x], [r["collected"] for r in rows], width=0.4, color=ACCENT, label="collected")
    ax.set_xticks(x, [f"{r['week_start']:%d %b}" for r in rows])
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax.set_title(f"Cash expected vs collected, by week ({report.base_currency})", fontsize=10, color=INK, loc="left")
    ax.legend(fontsize=7, frameon=False)
    alt = "Cash by week: " + "; ".join(
        f"week of {r['week_start']:%d %b} expected {_money(r['expected'])}, collected {r['collected']:,.2f}"
        for r in rows
    )
    return Chart(f"cash-{report.tenant_id[:8]}", _png(fig), alt)


def charts(report: WeeklyReport) -> list[Chart]:
    return [aging_chart(report), trend_chart(report), cash_chart(report)]


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


def _money(value: float | None) -> str:
    return "no forecast" if value is None else f"{value:,.2f}"
