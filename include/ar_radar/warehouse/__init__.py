"""The dbt warehouse: build, unit tests and docs of dbt_project/."""
