"""The data-health gate: validate warehouse tables with Great Expectations before scoring.

GX cannot validate DuckDB through SQL (see ARCHITECTURE.md), so each checked table is read read-only (held in
memory by ``gate.held_tables``), turned into a DataFrame (a big keyed table a chunk at a time) and validated by the
committed validation definition of the same name. Results are stored in ``ops.data_health_runs`` /
``ops.data_health_checks``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd

from ar_radar import database
from ar_radar.gate import incremental, raw_record_counts, results_retention, source_schema
from ar_radar.gate.held_tables import HeldTables
from ar_radar.gate.report import CheckResult, HealthReport
from ar_radar.gate.suites import CheckedTable, checked_tables, load_config

log = logging.getLogger(__name__)

DATA_DOCS_SITE = "local_site"
# Rows of a keyed table GX validates in one DataFrame; more go in chunks of this many. At a million rows the payments'
# frame and GX's checks of it take ~0.7 GB, so a full gate stays within the warehouse pool's reservation (DuckDB's
# cap + 1 GB) whatever the history (BENCHMARKS.md).
CHUNK_ROWS = 1_000_000


def _threshold(check: str, kwargs: dict) -> str:
    """What the check allows, in words: its bounds, and how many rows may miss them."""
    if "min_value" in kwargs and "column" not in kwargs:
        return f"at least {kwargs['min_value']} rows"
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None:
        bounds = f"values equal to {low}" if low == high else f"values between {low} and {high}"
    elif low is not None:
        bounds = f"values of at least {low}"
    elif high is not None:
        bounds = f"values of at most {high}"
    elif "value_set" in kwargs:
        values = list(kwargs["value_set"])
        shown = ", ".join(map(str, values)) if len(values) <= 8 else f"{len(values)} listed values"
        bounds = f"values {'not ' if '_not_be_in_set' in check else ''}among {shown}"
    else:
        bounds = ""
    mostly = kwargs.get("mostly", 1)
    share = "none" if mostly >= 1 else f"up to {100 * (1 - mostly):.0f}% of rows"
    return f"{bounds}, failing rows: {share}" if bounds else share


def _clean(value: object) -> object:
    return None if isinstance(value, float) and math.isnan(value) else value


def _to_check(table: str, result: object, frame_ids: list[str], examples: list[str] | None = None) -> CheckResult:
    config = result.expectation_config
    kwargs = dict(config.kwargs)
    res = result.result or {}
    column = (
        kwargs.get("column")
        or ",".join(kwargs.get("column_list", []))
        or (f"{kwargs['column_A']}/{kwargs['column_B']}" if "column_A" in kwargs else None)
    )
    examples = (
        examples
        if examples is not None
        else list(
            dict.fromkeys(
                str(frame_ids[i])
                for i in res.get("partial_unexpected_index_list") or []
                if isinstance(i, int) and i < len(frame_ids)
            )
        )[:5]
    )
    error = None
    if result.exception_info and result.exception_info.get("raised_exception"):
        error = str(result.exception_info.get("exception_message"))[:300]
    unexpected = res.get("unexpected_count")
    if config.type == "expect_table_row_count_to_be_between":
        unexpected = None
    return CheckResult(
        table=table,
        check=config.type,
        column=column,
        severity=str(getattr(config.severity, "value", config.severity) or "critical"),
        success=bool(result.success),
        element_count=res.get("element_count", res.get("observed_value")),
        unexpected_count=unexpected,
        unexpected_percent=_clean(res.get("unexpected_percent")),
        threshold=_threshold(config.type, kwargs),
        example_ids=examples,
        error=error,
        advice=str((config.meta or {}).get("advice", "")),
    )


# Expectations about the set of columns itself: a table checked by one of these is read whole.
_WHOLE_TABLE_CHECKS = (
    "expect_column_to_exist",
    "expect_table_columns_to_match_set",
    "expect_table_columns_to_match_ordered_list",
    "expect_table_column_count_to_equal",
    "expect_table_column_count_to_be_between",
)


def checked_columns(suite: object, example_id: str) -> list[str] | None:
    """The columns a suite's expectations name, and the example id; None when it needs every column."""
    columns = [example_id]
    for expectation in suite.expectations:
        config = expectation.configuration
        if config.type in _WHOLE_TABLE_CHECKS:
            return None
        kwargs = config.kwargs
        columns += [kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B")]
        columns += list(kwargs.get("column_list") or [])
    return list(dict.fromkeys(c for c in columns if c))


@dataclass
class Batch:
    """One checked table as read for this run (its rows held under its name) and, for a keyed table, what the
    merge needs."""

    rows: int
    plan: incremental.Plan | None = None  # keyed tables only
    metrics: dict | None = None  # whole-table figures (incremental runs only)
    checked_through: datetime | None = None
    rows_in_table: int = 0


def read_batches(
    held: HeldTables, config: dict, as_of: date, suites: dict[str, object] | None = None, full: bool = False
) -> tuple[dict[str, Batch], list[raw_record_counts.RawCount]]:
    """Each checked table's rows, held in ``held`` under the table's name, read while the warehouse is attached.

    Only the columns its checks use are read (at a million invoices reading every column made the gate 1.2x
    slower; BENCHMARKS.md). A keyed table (``key`` in the config) is read whole only when
    ``incremental.plan`` says so; otherwise only its rows changed since the last run, plus the kept failures
    and whole-table figures that make its results equal a full run's. The queries may also read
    ``source_schema`` (the raw streams' fields against the config's ``source_schema`` section) and
    ``raw_record_counts`` (each raw stream's distinct records and its staging rows, counted on from the last run's
    count unless ``full``: ``gate.raw_record_counts``), returned with the batches for the next run.
    """
    suites = suites or {}
    tables = checked_tables(config)
    batches: dict[str, Batch] = {}
    con = held.con
    con.register("source_schema", source_schema.compare(con, config.get("source_schema") or {}))
    counted, raw_counts = raw_record_counts.count(con, config.get("raw_record_counts") or {}, full)
    con.register("raw_record_counts", counted)
    for name, table in tables.items():
        query = table.query.replace("{as_of_date}", as_of.isoformat())
        columns = checked_columns(suites[name], table.example_id) if name in suites else None
        if not table.key:
            select = ", ".join(database.quoted(c) for c in columns) if columns else "*"
            batches[name] = Batch(held.hold(name, f"select {select} from ({query})"))
            continue
        suite = suites[name]
        plan = incremental.plan(con, name, table, suite, full)
        wanted = list(dict.fromkeys([*(columns or []), *table.key])) if columns else ["*"]
        select = ", ".join(c if c == "*" else database.quoted(c) for c in wanted)
        rows = held.hold(name, f"select {select} from ({query}) where {incremental.changed_filter(table, plan.since)}")
        [(through, rows_in_table)] = con.execute(
            f"select max({database.quoted(table.changed_column)}), count(*) from ({query})"
        ).fetchall()
        batch = Batch(rows, plan, checked_through=through, rows_in_table=rows_in_table)
        if plan.since is not None:
            plan.failures = incremental.kept_failures(con, name, query, table, plan.since)
            batch.metrics = incremental.whole_table_metrics(con, query, table, suite)
        batches[name] = batch
    return batches, raw_counts


def _data_docs_pages(context: object, results: dict[str, object]) -> dict[str, str]:
    """Render this run's validation results into the Data Docs site; table -> the page's file path.

    Data Docs are a courtesy for the reader: if rendering fails the gate's verdict still stands.
    """
    if not results:
        return {}
    try:
        context.build_data_docs(site_names=[DATA_DOCS_SITE], resource_identifiers=list(results.values()))
        pages = {}
        for table, identifier in results.items():
            [site] = context.get_docs_sites_urls(resource_identifier=identifier, site_name=DATA_DOCS_SITE)
            pages[table] = unquote(urlparse(site["site_url"]).path)
        return pages
    except Exception:  # noqa: BLE001 - any GX rendering failure; logged with its traceback
        log.warning("could not build the Data Docs pages for this run", exc_info=True)
        return {}


def validate(
    db_path: Path,
    gx_root: Path,
    run_id: str,
    as_of: date,
    full: bool = False,
    keep_results_days: int = results_retention.KEEP_DAYS,
    chunk_rows: int = CHUNK_ROWS,
) -> HealthReport:
    """Run every table's committed checkpoint against its DataFrame, as one GX run named after run_id.

    Keyed tables are validated only where their rows changed since the last run (see ``gate.incremental``;
    ``full`` validates every row); the report's ``row_states`` and ``raw_counts`` are what ``incremental.remember``
    keeps. A keyed table with more than ``chunk_rows`` rows to validate is validated that many at a time
    (``_validate_merged``). GX's stored results of runs more than ``keep_results_days`` old are deleted first
    (``gate.results_retention``).
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="file", context_root_dir=str(gx_root))
    gx_run = RunIdentifier(run_name=run_id, run_time=datetime.now(UTC))
    results_retention.prune(context, keep_results_days, gx_run.run_time)
    checks: list[CheckResult] = []
    result_ids = {}
    states: list[incremental.TableState] = []
    config = load_config(gx_root)
    tables = checked_tables(config)
    suites = {name: context.suites.get(name) for name in tables}
    with HeldTables(db_path) as held:
        batches, raw_counts = read_batches(held, config, as_of, suites, full)
        held.let_go_of_warehouse()
        for name, batch in batches.items():
            # One table's DataFrame at a time (gate.held_tables): it is gone when the next is made.
            found, result_ids[name], state = _validate_table(
                context, gx_run, held, name, tables[name], batch, suites.get(name), chunk_rows
            )
            checks.extend(found)
            states.extend([state] if state else [])
            held.drop(name)
    # Data Docs pages are rendered only for tables with a failed check (what the alert attaches): on a clean
    # day that saves most of the gate's time. Every result is stored, so any page can be rendered later.
    failed_tables = dict.fromkeys(c.table for c in checks if not c.success)
    report = HealthReport(
        run_id=run_id,
        as_of_date=as_of.isoformat(),
        checked_at=gx_run.run_time.isoformat(),
        checks=checks,
        data_docs=_data_docs_pages(context, {t: result_ids[t] for t in failed_tables}),
        row_states=states,
        raw_counts=raw_counts,
    )
    log.info(
        "data health: %d checks, %d critical failures, %d warnings",
        len(checks),
        len(report.critical_failures),
        len(report.warnings),
    )
    return report


def _validate_table(
    context: object,
    gx_run: object,
    held: HeldTables,
    name: str,
    table: CheckedTable,
    batch: Batch,
    suite: object | None,
    chunk_rows: int,
) -> tuple[list[CheckResult], object, incremental.TableState | None]:
    """One table's checkpoint run on its held rows: its checks, GX's result id and, for a keyed table, its state."""
    checkpoint = context.checkpoints.get(name)
    if batch.plan is None:
        frame = held.frame(name)
        result_id, result = _run(checkpoint, frame, gx_run)
        ids = frame[table.example_id].astype(str).tolist() if table.example_id in frame else []
        return [_to_check(name, r, ids) for r in result.results], result_id, None
    whole = batch.rows <= chunk_rows or any(incremental.kind(e) == "other" for e in suite.expectations)
    if batch.plan.since is None and whole:  # every row validated at once: GX's own whole-table results
        frame = held.frame(name)
        result_id, result = _run(checkpoint, frame, gx_run)
        failures = incremental.frame_failures(frame, table, suite, result.results, _row_keys(held, name, table, 0))
        combined = [(r, _examples(frame, table, r)) for r in incremental.in_suite_order(suite, result.results)]
    else:
        combined, failures, result_id = _validate_merged(
            checkpoint, gx_run, held, name, table, batch, suite, chunk_rows
        )
    log.info("%s: validated %d of %d rows (%s)", name, batch.rows, batch.rows_in_table, batch.plan.reason)
    state = incremental.TableState(
        table=name,
        suite_hash=incremental.suite_hash(suite),
        checked_through=batch.checked_through,
        failures=failures,
        since=batch.plan.since,
        rows_validated=batch.rows,
        rows_in_table=batch.rows_in_table,
        reason=batch.plan.reason,
    )
    return [_to_check(name, r, [], examples=ex) for r, ex in combined], result_id, state


def _validate_merged(
    checkpoint: object,
    gx_run: object,
    held: HeldTables,
    name: str,
    table: CheckedTable,
    batch: Batch,
    suite: object,
    chunk_rows: int,
) -> tuple[list, pd.DataFrame, object]:
    """The held rows validated ``chunk_rows`` at a time (one chunk on a normal day) and merged into whole-table
    results by ``incremental.combined_results``: the chunks' failing rows, the kept failures of unchanged rows (an
    incremental run's) and the whole-table figures in SQL (an incremental run's read from the warehouse, a full run's
    from the held rows, all of them). The results equal one pass's over every row (tests/gate/test_incremental.py).
    GX stores one result per chunk; the one named for the Data Docs page is the first that failed."""
    found, result_id, failed = [], None, False
    for start in range(0, max(batch.rows, 1), chunk_rows):  # one run at least: a quiet day has a result too
        frame = held.frame(name, start, chunk_rows)
        chunk_id, result = _run(checkpoint, frame, gx_run)
        found.append(
            incremental.frame_failures(frame, table, suite, result.results, _row_keys(held, name, table, start))
        )
        if result_id is None or (not result.success and not failed):
            result_id, failed = chunk_id, not result.success
        del frame  # before the next chunk's is made
    metrics = batch.metrics
    if metrics is None:  # a full run
        metrics = incremental.whole_table_metrics(held.con, f"select * from {held.table(name)}", table, suite)
    combined, failures = incremental.combined_results(
        suite, pd.concat(found, ignore_index=True), batch.plan.failures, metrics
    )
    return combined, failures, result_id


def _run(checkpoint: object, frame: pd.DataFrame, gx_run: object) -> tuple[object, object]:
    """The checkpoint on one DataFrame: GX's result id and result."""
    outcome = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=gx_run)
    _let_go_of_batches(checkpoint)
    [(result_id, result)] = outcome.run_results.items()
    return result_id, result


def _row_keys(held: HeldTables, name: str, table: CheckedTable, first: int) -> Callable[[list[int]], list[str]]:
    """The row keys of a frame's rows by position, the frame starting at the held table's row ``first``."""
    return lambda rows: held.values(name, incremental.row_key_sql(table.key), [first + row for row in rows])


def _let_go_of_batches(checkpoint: object) -> None:
    """Empty the caches where GX's pandas engine keeps every batch it loaded (one engine per datasource, for the
    life of the context): without this each table's DataFrame outlived its run, and at 3M invoices the payments'
    2 GB frame was made beside the invoices' (BENCHMARKS.md)."""
    for definition in checkpoint.validation_definitions:
        batches = definition.data.data_asset.datasource.get_execution_engine().batch_manager
        batches.reset_batch_cache()
        batches.batch_data_cache.clear()


def _examples(frame: pd.DataFrame, table: CheckedTable, result: object) -> list[str]:
    """A keyed table's example ids: the smallest of all its failing rows (the incremental path's rule too)."""
    index = [i for i in (result.result or {}).get("unexpected_index_list") or [] if isinstance(i, int)]
    return incremental.examples(frame.loc[index, table.example_id]) if index else []
