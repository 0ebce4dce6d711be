"""The rows a gate run validates, read from the warehouse at one moment and held in DuckDB until GX takes them.

The gate reads every checked table through one read-only attachment of the warehouse (one consistent moment) and
lets the file go before GX runs: a reader blocks DuckDB's writer, and GX takes most of the gate's time. The rows
wait in an in-memory DuckDB database, in the warehouse's types (a GUID is a 16-byte UUID there, ~90 bytes as a
Python string), and each table becomes a DataFrame only when GX validates it, then is dropped, so the gate holds
one table's Python objects at a time. Holding every frame in pandas at once took a full gate at 3M invoices to
9.2 GB (BENCHMARKS.md).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ar_radar import database

if TYPE_CHECKING:
    import pandas as pd


class HeldTables:
    """An in-memory DuckDB database with the warehouse attached read-only (as the default catalog) until
    ``let_go_of_warehouse``; ``hold`` copies a query's rows into it, ``frame`` gives them with Xero's ids as text
    (``database.frame``)."""

    def __init__(self, db_path: str | Path) -> None:
        # Beyond the memory cap DuckDB spills the held rows to this run's own directory, not the worker's cwd.
        self._spill = tempfile.TemporaryDirectory(prefix="ar-radar-gate-")
        self.con = database.connect(":memory:", read_only=False, temp_directory=self._spill.name)
        self.con.execute(f"attach {_literal(str(db_path))} as warehouse (read_only)")
        self.con.execute("use warehouse")

    def hold(self, name: str, sql: str) -> int:
        """The rows of ``sql`` (over the warehouse) as the held table ``name``, in the query's order; how many."""
        table = self.table(name)
        self.con.execute(f"create table {table} as {sql}")
        [(rows,)] = self.con.execute(f"select count(*) from {table}").fetchall()
        return rows

    def let_go_of_warehouse(self) -> None:
        self.con.execute("use memory")
        self.con.execute("detach warehouse")

    def table(self, name: str) -> str:
        """The held table ``name`` as SQL."""
        return f"memory.main.{database.quoted(name)}"

    def frame(self, name: str, first: int = 0, count: int | None = None) -> pd.DataFrame:
        """The held rows (``count`` of them from row ``first``, or all) as a DataFrame; row i of the frame is the
        table's row id first + i."""
        # Held tables are written once (no deletes), so their row ids run 0..n-1 in insertion order, which a scan
        # without ORDER BY keeps (DuckDB's preserve_insertion_order, on by default).
        rows = "" if count is None else f" where rowid >= {int(first)} and rowid < {int(first) + int(count)}"
        return database.frame(self.con, f"select * from {self.table(name)}{rows}")

    def values(self, name: str, expression: str, rows: list[int]) -> list[str]:
        """``expression`` (SQL over the held table's columns) for the given rows, in their order."""
        if not rows:
            return []
        table = self.table(name)
        found = dict(
            self.con.execute(
                f"select rowid, {expression} from {table} where rowid in (select unnest(?))", [sorted(set(rows))]
            ).fetchall()
        )
        return [found[row] for row in rows]

    def drop(self, name: str) -> None:
        self.con.execute(f"drop table {self.table(name)}")

    def close(self) -> None:
        self.con.close()
        self._spill.cleanup()

    def __enter__(self) -> HeldTables:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
