"""Risk bands: one definition of their edges, for invoices and customers alike."""

BAND_NOTE = "probability indicator, not a certainty"
MEDIUM_AT, HIGH_AT = 0.3, 0.6  # low < 0.3 <= medium < 0.6 <= high


def band(probability: float) -> str:
    return "low" if probability < MEDIUM_AT else "medium" if probability < HIGH_AT else "high"


def band_sql(column: str) -> str:
    """The same bands as a SQL expression over a probability column."""
    return f"CASE WHEN {column} >= {HIGH_AT} THEN 'high' WHEN {column} >= {MEDIUM_AT} THEN 'medium' ELSE 'low' END"
