"""Benchmark: the payment-risk model's backtest quality on the sandbox and on a public-format CSV.

    .venv/bin/python bench/model_quality.py [--organisations 5] [--invoices 2500]

1. The sandbox (``--organisations`` organisations, two years each): extract, load and build the warehouse, then
   ``python -m ar_radar train-model`` (each organisation's own model, backtested with and without CRM signals);
   prints each organisation's backtest from ``models.risk_models`` beside its baselines.
2. A public-format CSV (bench/model_speed.py's generator: ~2,500 invoices, disputed, currency, billing channel):
   ``python -m ar_radar backtest --csv FILE --json``.

Only the command line and the tables are used, so the same script measures an older version of AR Radar too
(run it with PYTHONPATH pointing at that version's include/): BENCHMARKS.md compares the two.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from model_speed import AS_OF, build_sandbox_warehouse, write_public_format_history  # noqa: E402


def sandbox_quality(folder: Path, organisations: int) -> list[dict]:
    import duckdb

    db = build_sandbox_warehouse(folder, organisations)
    env = {**os.environ, "AR_RADAR_DB": str(db), "AR_RADAR_DATA_DIR": str(folder)}
    subprocess.run(
        [sys.executable, "-m", "ar_radar", "train-model", "--as-of", AS_OF.isoformat()],
        check=True,
        capture_output=True,
        env=env,
        timeout=3600,
    )
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select tenant_id, invoices, metrics from models.risk_models order by tenant_id").fetchall()
    return [{"tenant_id": t, "invoices": n, **json.loads(m)} for t, n, m in rows]


def csv_quality(folder: Path, invoices: int) -> dict:
    csv = folder / "history.csv"
    write_public_format_history(csv, invoices)
    out = subprocess.run(
        [sys.executable, "-m", "ar_radar", "backtest", "--csv", str(csv), "--json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return json.loads(out.stdout)


def _line(name: str, m: dict) -> str:
    scores = f"ROC-AUC {m['roc_auc']:.3f}  PR-AUC {m['pr_auc']:.3f}  Brier {m['brier']:.3f}"
    return f"{name:<28} {scores}  MAE {m['mae_days']:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--organisations", type=int, default=5)
    parser.add_argument("--invoices", type=int, default=2500)
    args = parser.parse_args()
    import ar_radar

    print(f"AR Radar from {Path(ar_radar.__file__).parent}")
    with tempfile.TemporaryDirectory(prefix="model-quality-") as tmp:
        models = sandbox_quality(Path(tmp) / "sandbox", args.organisations)
        print(f"sandbox: {len(models)} organisations")
        for m in models:
            crm = m.get("crm_signals") or {}
            kept = "CRM kept" if crm.get("kept") else "CRM left out"
            print("  " + _line(f"{m['tenant_id'][:8]} ({m['invoices_scored']} scored)", m) + f"  [{kept}]")
            print("  " + _line("    customer's past average", m["baselines"]["customer_past_average"]))
        for key in ("roc_auc", "pr_auc", "brier", "mae_days"):
            own = statistics.median(m[key] for m in models)
            past = statistics.median(m["baselines"]["customer_past_average"][key] for m in models)
            print(f"  median {key}: model {own:.4f}, customer's past average {past:.4f}")
        report = csv_quality(Path(tmp), args.invoices)
        print(f"public-format CSV: {report['invoices_scored']} paid invoices scored, late share {report['late_share']}")
        print("  " + _line("model", report))
        for name, m in {**report["baselines"], **report["variants"]}.items():
            print("  " + _line(name, m))


if __name__ == "__main__":
    main()
