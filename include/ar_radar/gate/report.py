"""What the gate found: each check's result, a run's report, and the one exception of the gate."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CheckResult:
    table: str
    check: str
    column: str | None
    severity: str
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    threshold: str = ""
    example_ids: list[str] = field(default_factory=list)
    error: str | None = None
    advice: str = ""
    passed_last_at: str | None = None  # when this check last passed (filled from the run history)

    def describe(self) -> str:
        """One line an owner can read."""
        where = f"{self.table}.{self.column}" if self.column else self.table
        name = self.check.removeprefix("expect_").replace("_", " ")
        if self.error:
            return f"{where}: could not check '{name}': {self.error}"
        if self.unexpected_count is None:
            observed = f"observed {self.element_count} rows"
        else:
            observed = (
                f"{self.unexpected_count} of {self.element_count} rows ({self.unexpected_percent or 0:.1f}%) fail"
            )
        examples = f"; for example {', '.join(self.example_ids[:3])}" if self.example_ids else ""
        return f"{where}: {name}: {observed} (allowed: {self.threshold}){examples}"


@dataclass
class HealthReport:
    run_id: str
    as_of_date: str
    checked_at: str
    checks: list[CheckResult]
    data_docs: dict[str, str] = field(default_factory=dict)  # table -> its GX Data Docs page (a file)
    # keyed tables: rows validated and failing rows kept for the next run (gate.incremental), not stored here
    row_states: list = field(default_factory=list)
    # each raw stream's distinct records as counted (gate.raw_record_counts): the next run adds to them
    raw_counts: list = field(default_factory=list)

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success and c.severity == "critical"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success and c.severity != "critical"]

    @property
    def passed(self) -> bool:
        return not self.critical_failures


class GateNotPassed(RuntimeError):
    """The data-health gate did not pass a run (a critical check failed, or it never ran), so nothing that
    depends on healthy data (training, scoring, the queue, reminders) may use that run's data."""
