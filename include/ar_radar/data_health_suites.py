"""The data-health suites, written once into the committed GX file context in ``expectations/``.

Run ``python -m ar_radar gx-bootstrap`` after editing this file; the JSON it writes under
``expectations/`` is what the gate reads at run time (and what reviewers diff). Each
expectation has GX's ``severity``: ``critical`` (the default) stops scoring, ``warning`` is
reported in the queue email.
"""

from __future__ import annotations

from pathlib import Path

DATASOURCE = "ar_radar_frames"
BATCH_DEFINITION = "whole_table"

# ISO 4217 active currency codes.
ISO_CURRENCIES = sorted(
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD "
    "GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT "
    "LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR "
    "NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP "
    "STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG "
    "XOF XPF YER ZAR ZMW ZWG".split()
)
INVOICE_STATUSES = ["DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"]


def suite_specs() -> dict[str, list]:
    """Suite name (= table checked) -> expectations."""
    import great_expectations.expectations as gxe

    return {
        "stg_xero__invoices": [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gxe.ExpectColumnValuesToNotBeNull(column="invoice_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="contact_id", mostly=0.99),
            gxe.ExpectColumnValuesToNotBeNull(column="due_date", mostly=0.99),
            gxe.ExpectColumnValuesToNotBeNull(column="total", mostly=0.99),
            gxe.ExpectColumnValuesToNotBeNull(column="currency_code", mostly=0.99),
            gxe.ExpectColumnValuesToBeInSet(column="currency_code", value_set=ISO_CURRENCIES),
            gxe.ExpectColumnValuesToBeInSet(column="status", value_set=INVOICE_STATUSES),
            gxe.ExpectColumnValuesToBeBetween(column="amount_due", min_value=0),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["tenant_id", "invoice_id"]),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="total",
                column_B="amount_due",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                severity="warning",
            ),
        ],
        "fct_ar_aging": [
            gxe.ExpectColumnValuesToNotBeNull(column="aging_bucket"),
            gxe.ExpectColumnValuesToNotBeNull(column="amount_due_base"),
            gxe.ExpectColumnValuesToBeBetween(column="amount_due", min_value=0, strict_min=True),
        ],
    }


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
    for table, expectations in suite_specs().items():
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
