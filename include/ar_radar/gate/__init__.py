"""The data-health gate: GX validation of the warehouse, its history, suites and source schema."""
