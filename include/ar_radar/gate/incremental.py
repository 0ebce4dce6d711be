"""Row verdicts kept between gate runs, so a daily gate validates only the rows that changed.

A checked table with ``key`` and ``changed_column`` in expectations/checks.yml (the big staging tables) is
validated in full once; every failing row of each row-level check (a column or column-pair expectation) is
kept in ``ops.data_health_row_failures``. Later runs read into pandas only the rows whose ``changed_column``
(staging's ``raw_loaded_at``) is newer than the last run saw, let GX find their failures, and add the kept
failures of the rows that did not change. The whole-table figures GX judges (rows, nulls, rows compared,
duplicate keys, the row count) come from SQL over the whole table, and each expectation's own GX logic
(``_validate``) turns them into its result, so an incremental run's results equal a full run's
(tests/gate/test_incremental.py).

A table is validated in full when it has no kept state, when its checks changed, when the warehouse was
rebuilt in full since (re-parsed rows keep their ``raw_loaded_at``), or when asked (``--full``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pandas as pd

from ar_radar import database
from ar_radar.gate import raw_record_counts
from ar_radar.gate.suites import CheckedTable, expectation_key

log = logging.getLogger(__name__)

EXAMPLES = 5  # example ids a check shows: the smallest, so the full and incremental paths agree


@dataclass
class TableState:
    """What one keyed table's run found and leaves for the next run."""

    table: str
    suite_hash: str
    checked_through: datetime | None  # the newest changed_column value this run saw
    failures: pd.DataFrame  # check_key, row_key, example_id: every failing row of every row-level check
    since: datetime | None = None  # None: validated in full
    rows_validated: int = 0
    rows_in_table: int = 0
    reason: str = ""


@dataclass
class Plan:
    """How to read one keyed table this run."""

    since: datetime | None  # validate rows changed after this; None: every row
    reason: str
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)  # kept failures of unchanged rows


def check_key(expectation: object) -> str:
    """A stable name for one expectation (what it checks, not GX's id, which a re-bootstrap may change)."""
    return hashlib.sha256(repr(expectation_key(expectation)).encode()).hexdigest()[:20]


def suite_hash(suite: object) -> str:
    return hashlib.sha256(repr(sorted(map(expectation_key, suite.expectations))).encode()).hexdigest()


# GX map metrics whose verdict on a row depends on that row alone (so a kept verdict stays true while the row does
# not change). Others, such as column_values.unique or .increasing, compare rows: a table with one of them is
# validated in full every run.
ROW_LOCAL = {
    "row": {
        "column_values.nonnull",
        "column_values.null",
        "column_values.in_set",
        "column_values.not_in_set",
        "column_values.between",
        "column_values.match_regex",
        "column_values.not_match_regex",
        "column_values.match_like_pattern",
        "column_values.not_match_like_pattern",
        "column_values.value_length_between",
        "column_values.value_length_equals",
        "column_values.match_strftime_format",
        "column_values.json_parseable",
    },
    "pair": {"column_pair_values.a_greater_than_b", "column_pair_values.equal", "column_pair_values.in_set"},
}


def kind(expectation: object) -> str:
    """row (a verdict per row, kept), pair (the same, two columns), unique, rows (the row count), or other."""
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    metric = getattr(expectation, "map_metric", None)
    if isinstance(expectation, ColumnMapExpectation) and metric in ROW_LOCAL["row"]:
        return "row"
    if isinstance(expectation, ColumnPairMapExpectation) and metric in ROW_LOCAL["pair"]:
        return "pair"
    if isinstance(expectation, MulticolumnMapExpectation) and metric == "compound_columns.unique":
        return "unique"
    if expectation.configuration.type == "expect_table_row_count_to_be_between":
        return "rows"
    return "other"


def row_key_sql(key: list[str]) -> str:
    parts = ", ".join(f"coalesce(cast({database.quoted(c)} as varchar), '')" for c in key)
    return f"concat_ws(chr(31), {parts})"


def plan(con: duckdb.DuckDBPyConnection, name: str, table: CheckedTable, suite: object, full: bool) -> Plan:
    """Whether this run may validate only the changed rows of ``name``, and since when."""
    if full:
        return Plan(None, "a full validation was asked for")
    if any(kind(e) == "other" for e in suite.expectations):
        return Plan(None, "a check of this table cannot be validated row by row")
    if not database.has_table(con, "ops.data_health_row_state"):
        return Plan(None, "no earlier run kept its row verdicts")
    found = con.execute(
        "select suite_hash, checked_through, checked_at from ops.data_health_row_state where table_name = ?", [name]
    ).fetchall()
    if not found:
        return Plan(None, "no earlier run kept its row verdicts")
    [state] = found
    if state[0] != suite_hash(suite):
        return Plan(None, "its checks changed since the last run")
    if database.has_table(con, "ops.warehouse_builds"):
        [rebuilt] = con.execute(
            "select count(*) from ops.warehouse_builds where full_refresh and built_at > ?", [state[2]]
        ).fetchall()[0]
        if rebuilt:
            return Plan(None, "the warehouse was rebuilt in full since the last run")
    if state[1] is None:
        return Plan(None, "the last run saw no rows")
    return Plan(state[1], f"rows changed after {state[1].isoformat()}")


def changed_filter(table: CheckedTable, since: datetime | None) -> str:
    """The rows to read: all (None), or those changed after ``since`` (and any without a change time)."""
    if since is None:
        return "true"
    column = database.quoted(table.changed_column)
    return f"({column} > cast('{since.isoformat()}' as timestamptz) or {column} is null)"


def kept_failures(
    con: duckdb.DuckDBPyConnection, name: str, query: str, table: CheckedTable, since: datetime
) -> pd.DataFrame:
    """The kept failing rows of ``name`` that still exist and did not change since ``since``."""
    unchanged = f"not {changed_filter(table, since)}"
    return con.execute(
        f"""select f.check_key, f.row_key, f.example_id from ops.data_health_row_failures as f
            semi join (select {row_key_sql(table.key)} as row_key from ({query}) where {unchanged}) as t
                using (row_key)
            where f.table_name = ?""",
        [name],
    ).df()


def whole_table_metrics(con: duckdb.DuckDBPyConnection, query: str, table: CheckedTable, suite: object) -> dict:
    """Per expectation, the figures GX needs about the whole table (rows, nulls, rows compared, duplicates)."""
    selects = ["count(*) as n"]
    for i, expectation in enumerate(suite.expectations):
        cfg = expectation.configuration.kwargs
        k = kind(expectation)
        if k == "row":
            # count(*) - count(column), not a filtered count: DuckDB answers count(column) from the column's
            # statistics where it can (9.3M payments at 3M invoices: 0.19 s -> 0.001 s for three columns)
            selects.append(f"count(*) - count({database.quoted(cfg['column'])}) as e{i}")
        elif k in ("pair", "unique"):
            selects.append(f"count(*) filter (where not ({_ignored_rows(expectation)})) as e{i}")
    [row] = con.execute(f"select {', '.join(selects)} from ({query})").fetchall()
    metrics = {}
    position = 1  # row[0] is the row count; then one figure per row, pair and unique check, in order
    for i, expectation in enumerate(suite.expectations):
        k = kind(expectation)
        found = {"n": row[0]}
        if k in ("row", "pair", "unique"):
            found["count"] = row[position]
            position += 1
        if k == "unique":
            found["duplicates"] = _duplicates(con, query, table, expectation)
        metrics[i] = found
    return metrics


def _duplicates(con: duckdb.DuckDBPyConnection, query: str, table: CheckedTable, expectation: object) -> pd.DataFrame:
    """Rows whose key columns repeat (GX's compound_columns.unique, over the whole table), with example ids."""
    columns = ", ".join(database.quoted(c) for c in expectation.configuration.kwargs["column_list"])
    example_id = database.quoted(table.example_id)
    return con.execute(
        f"""select {row_key_sql(table.key)} as row_key, coalesce(cast({example_id} as varchar), 'None') as example_id
            from ({query}) where not ({_ignored_rows(expectation)})
            qualify count(*) over (partition by {columns}) > 1"""
    ).df()


def in_suite_order(suite: object, results: list) -> list:
    """GX's results, one per expectation, in the suite's order (GX groups them its own way)."""
    by_id = {r.expectation_config.id: r for r in results}
    return [by_id[e.id] for e in suite.expectations]


def _ignored_rows(expectation: object) -> str:
    """SQL for the rows a pair or multicolumn check leaves out (its ignore_row_if, with GX's defaults)."""
    cfg = expectation.configuration.kwargs
    if "column_list" in cfg:  # multicolumn
        columns, ignore = (
            [database.quoted(c) for c in cfg["column_list"]],
            cfg.get("ignore_row_if", "all_values_are_missing"),
        )
        op = {"all_values_are_missing": " and ", "any_value_is_missing": " or "}.get(ignore)
    else:
        columns, ignore = (
            [database.quoted(cfg["column_A"]), database.quoted(cfg["column_B"])],
            cfg.get("ignore_row_if", "both_values_are_missing"),
        )
        op = {"both_values_are_missing": " and ", "either_value_is_missing": " or "}.get(ignore)
    return op.join(f"{c} is null" for c in columns) if op else "false"


def examples(ids: pd.Series) -> list[str]:
    return sorted(set(ids.astype(str)))[:EXAMPLES]


def frame_failures(
    frame: pd.DataFrame, table: CheckedTable, suite: object, results: list, row_keys: Callable[[list[int]], list[str]]
) -> pd.DataFrame:
    """The failing rows of each row-level check GX found in ``frame`` (COMPLETE results list every index);
    ``row_keys`` gives the keys (``row_key_sql``) of the frame's rows at the given positions."""
    found = []
    for expectation, result in zip(suite.expectations, in_suite_order(suite, results), strict=True):
        if kind(expectation) not in ("row", "pair"):
            continue
        index = [i for i in (result.result or {}).get("unexpected_index_list") or [] if isinstance(i, int)]
        found.append(
            pd.DataFrame(
                {
                    "check_key": check_key(expectation),
                    "row_key": row_keys(index),
                    "example_id": frame.loc[index, table.example_id].astype(str).to_numpy(),
                }
            )
        )
    return (
        pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=["check_key", "row_key", "example_id"])
    )


def combined_results(
    suite: object, changed_failures: pd.DataFrame, kept: pd.DataFrame, metrics: dict
) -> tuple[list, pd.DataFrame]:
    """Each expectation's whole-table result from the changed rows' failures, the kept ones and the SQL figures,
    judged by the expectation's own GX logic; and every failing row to keep for the next run."""
    from great_expectations.core import ExpectationValidationResult

    failures = pd.concat([kept, changed_failures], ignore_index=True)
    results = []
    for i, expectation in enumerate(suite.expectations):
        k, found = kind(expectation), metrics[i]
        metric = expectation.map_metric if k != "rows" else None
        values: dict = {"table.row_count": found["n"]}
        if k in ("row", "pair"):
            rows = failures[failures["check_key"] == check_key(expectation)]
            values[f"{metric}.unexpected_count"] = len(rows)
            ids = rows["example_id"]
        elif k == "unique":
            values[f"{metric}.unexpected_count"] = len(found["duplicates"])
            ids = found["duplicates"]["example_id"]
        else:
            ids = pd.Series([], dtype=str)
        if k == "row":
            # rows with a null are left out of a column check; for the not-null check they are its failures
            values["column_values.nonnull.unexpected_count"] = found["count"]
        if k in ("pair", "unique"):
            values[f"{metric}.filtered_row_count"] = found["count"]
        outcome = expectation._validate(metrics=values, runtime_configuration={"result_format": "BASIC"})
        results.append(
            (
                ExpectationValidationResult(
                    success=outcome["success"],
                    result=outcome.get("result", {}),
                    expectation_config=expectation.configuration,
                ),
                examples(ids),
            )
        )
    return results, failures


def remember(
    db_path: object, run_id: str, states: list[TableState], raw_counts: list[raw_record_counts.RawCount] | None = None
) -> None:
    """Keep each keyed table's failing rows and how far this run read (replacing the table's earlier state), and
    the raw streams' record counts (``gate.raw_record_counts``; without them the next run counts afresh)."""
    if not states and not raw_counts:
        return
    with database.connect(db_path, read_only=False) as con:
        database.ensure(con, "ops.data_health_row_state", "ops.data_health_row_failures")
        con.execute("BEGIN TRANSACTION")
        raw_record_counts.remember(con, raw_counts or [])
        for state in states:
            con.execute("delete from ops.data_health_row_failures where table_name = ?", [state.table])
            con.execute("delete from ops.data_health_row_state where table_name = ?", [state.table])
            failures = state.failures.assign(table_name=state.table)[
                ["table_name", "check_key", "row_key", "example_id"]
            ]
            con.register("kept_failures", failures)
            con.execute("insert into ops.data_health_row_failures select * from kept_failures")
            con.unregister("kept_failures")
            con.execute(
                "insert into ops.data_health_row_state values (?, ?, ?, ?, now())",
                [state.table, state.suite_hash, state.checked_through, run_id],
            )
        con.execute("COMMIT")
