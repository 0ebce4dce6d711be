"""The data-health suites, generated from the one readable config ``expectations/checks.yml``.

Run ``python -m ar_radar gx-bootstrap`` (``make gx-bootstrap``) after editing the config; the GX
suites and validation definitions it writes under ``expectations/`` are what the gate reads at run
time (and what reviewers diff). A test fails while they and the config disagree.
"""

from __future__ import annotations

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


def load_config(root: Path) -> dict:
    path = root / CONFIG
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ChecksConfigError(f"cannot read the data-health checks in {path}: {exc}") from exc


def checked_tables(root: Path) -> dict[str, CheckedTable]:
    """Table (= suite and validation definition name) -> the query the gate validates."""
    return {name: CheckedTable(**spec) for name, spec in load_config(root)["tables"].items()}


def _expectation(spec: dict, value_sets: dict[str, list]) -> object:
    import great_expectations.expectations as gxe

    spec = dict(spec)
    check, severity = spec.pop("check"), spec.pop("severity", "critical")
    spec.pop("table", None)
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
    required = config["required_fields"]
    tiers = (("critical", required["critical_above_percent"]), ("warning", required["warning_above_percent"]))
    for table, fields in required["fields"].items():
        for column in fields:
            for severity, above in tiers:
                suites[table].append(
                    gxe.ExpectColumnValuesToNotBeNull(column=column, mostly=1 - above / 100, severity=severity)
                )
    for spec in config["checks"]:
        if spec.get("table") not in suites:
            raise ChecksConfigError(f"{spec.get('check')}: table {spec.get('table')!r} is not under `tables:`")
        suites[spec["table"]].append(_expectation(spec, config.get("value_sets", {})))
    return suites


def bootstrap(root: Path) -> None:
    """(Re)write the file context: data source, one asset, suite and validation definition per table."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", context_root_dir=str(root))
    # Quiet and private: no progress bars in task logs, no usage statistics sent anywhere.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.analytics_enabled = False
    context.variables.save()
    source = context.data_sources.add_or_update_pandas(DATASOURCE)
    for table, expectations in suite_specs(root).items():
        try:
            asset = source.get_asset(table)
        except LookupError:
            asset = source.add_dataframe_asset(table)
        try:
            batch = asset.get_batch_definition(BATCH_DEFINITION)
        except KeyError:
            batch = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)
        suite = context.suites.add_or_update(gx.ExpectationSuite(name=table, expectations=expectations))
        context.validation_definitions.add_or_update(gx.ValidationDefinition(name=table, data=batch, suite=suite))
