"""The raw layer: append-only versions of every record the APIs returned."""
