"""The data-health suites, generated from the one readable config ``expectations/checks.yml``.

Run ``python -m ar_radar gx-bootstrap`` (``make gx-bootstrap``) after editing the config; the GX
suites and validation definitions it writes under ``expectations/`` are what the gate reads at run
time (and what reviewers diff). A test fails while they and the config disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

DATASOURCE = "ar_radar_frames"
BATCH_DEFINITION = "whole_table"
CONFIG = "checks.yml"
SEVERITIES = ("critical", "warning")


class ChecksConfigError(ValueError):
    """expectations/checks.yml says something the gate cannot do."""


@dataclass(frozen=True)
class CheckedTable:
    query: str
    example_id: str
    advice: str = ""
    # A keyed table is validated row by row where it changed (ar_radar.gate.incremental): its key columns,
    # and the column that says when a row last changed.
    key: list[str] | None = None
    changed_column: str | None = None


def load_config(root: Path) -> dict:
    path = root / CONFIG
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ChecksConfigError(f"cannot read the data-health checks in {path}: {exc}") from exc


def checked_tables(config: dict) -> dict[str, CheckedTable]:
    """Table (= suite, validation definition and checkpoint name) -> the query the gate validates."""
    tables = {name: CheckedTable(**spec) for name, spec in config["tables"].items()}
    for name, table in tables.items():
        if bool(table.key) != bool(table.changed_column):
            raise ChecksConfigError(f"table {name}: `key` and `changed_column` go together")
    return tables


def _expectation(spec: dict, value_sets: dict[str, list], advice: str) -> object:
    import great_expectations.expectations as gxe

    spec = dict(spec)
    check, severity = spec.pop("check"), spec.pop("severity", "critical")
    spec.pop("table", None)
    # What to do travels with the expectation (GX meta), so Data Docs show it beside the result too.
    spec["meta"] = {"advice": " ".join(str(spec.pop("advice", advice)).split())}
    if severity not in SEVERITIES:
        raise ChecksConfigError(f"{check}: severity must be one of {SEVERITIES}, not {severity!r}")
    if isinstance(spec.get("value_set"), str):
        try:
            spec["value_set"] = value_sets[spec["value_set"]]
        except KeyError as exc:
            raise ChecksConfigError(f"{check}: no value set named {spec['value_set']!r}") from exc
    class_name = "".join(part.title() for part in check.split("_"))
    try:
        return getattr(gxe, class_name)(severity=severity, **spec)
    except AttributeError as exc:
        raise ChecksConfigError(f"{check}: not a Great Expectations expectation") from exc


def suite_specs(root: Path) -> dict[str, list]:
    """Suite name (= table checked) -> expectations, from the config."""
    import great_expectations.expectations as gxe

    config = load_config(root)
    suites: dict[str, list] = {name: [] for name in config["tables"]}
    advice = {name: " ".join(str(spec.get("advice", "")).split()) for name, spec in config["tables"].items()}
    required = config["required_fields"]
    tiers = (("critical", required["critical_above_percent"]), ("warning", required["warning_above_percent"]))
    for table, fields in required["fields"].items():
        for column in fields:
            for severity, above in tiers:
                suites[table].append(
                    gxe.ExpectColumnValuesToNotBeNull(
                        column=column, mostly=1 - above / 100, severity=severity, meta={"advice": advice[table]}
                    )
                )
    for spec in config["checks"]:
        if spec.get("table") not in suites:
            raise ChecksConfigError(f"{spec.get('check')}: table {spec.get('table')!r} is not under `tables:`")
        suites[spec["table"]].append(_expectation(spec, config.get("value_sets", {}), advice[spec["table"]]))
    return suites


def expectation_key(expectation: object) -> tuple:
    """What an expectation checks (not its id): for comparing committed suites with the config."""
    config = expectation.configuration
    return (
        config.type,
        json.dumps(config.kwargs, sort_keys=True, default=str),
        str(config.severity.value),
        json.dumps(config.meta or {}, sort_keys=True),
    )


def _unchanged(context: object, table: str, expectations: list) -> bool:
    try:
        committed = context.suites.get(table).expectations
    except Exception:  # noqa: BLE001 - GX raises several kinds for "no such suite"
        return False
    return sorted(map(expectation_key, committed)) == sorted(map(expectation_key, expectations))


def bootstrap(root: Path) -> None:
    """(Re)write the file context: data source, and per table an asset, suite, validation definition and checkpoint."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", context_root_dir=str(root))
    # Quiet and private: no progress bars in task logs, no usage statistics sent anywhere.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.analytics_enabled = False
    context.variables.save()
    # Reuse what exists so re-running changes no ids: the committed JSON then diffs only where a check changed.
    try:
        source = context.data_sources.get(DATASOURCE)
    except KeyError:
        source = context.data_sources.add_pandas(DATASOURCE)
    tables = checked_tables(load_config(root))
    for table, expectations in suite_specs(root).items():
        try:
            asset = source.get_asset(table)
        except LookupError:
            asset = source.add_dataframe_asset(table)
        try:
            batch = asset.get_batch_definition(BATCH_DEFINITION)
        except KeyError:
            batch = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)
        if _unchanged(context, table, expectations):
            # keep its ids, so the committed JSON changes only where a check did
            definition = context.validation_definitions.get(table)
        else:
            suite = context.suites.add_or_update(gx.ExpectationSuite(name=table, expectations=expectations))
            definition = context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=table, data=batch, suite=suite)
            )
        # One checkpoint per table: a DataFrame asset takes its frame as a batch parameter, and a
        # checkpoint passes the same parameters to all its definitions. Data Docs are built once per
        # run by the gate (not by a per-checkpoint action that would rebuild the index eight times).
        # A keyed table's results list every failing row (COMPLETE): the incremental gate keeps them.
        result_format = {"result_format": "COMPLETE" if tables[table].key else "SUMMARY"}
        if _checkpoint_settings(context, table) != (definition.id, result_format["result_format"]):
            context.checkpoints.add_or_update(
                gx.Checkpoint(
                    name=table,
                    validation_definitions=[definition],
                    actions=[],
                    result_format=result_format,
                )
            )


def _checkpoint_settings(context: object, name: str) -> tuple[str, str] | None:
    try:
        checkpoint = context.checkpoints.get(name)
        result_format = checkpoint.result_format
        if isinstance(result_format, dict):
            result_format = result_format.get("result_format")
        return checkpoint.validation_definitions[0].id, str(getattr(result_format, "value", result_format))
    except Exception:  # noqa: BLE001 - GX raises several kinds for "no such checkpoint"
        return None
