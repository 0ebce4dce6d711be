"""The keys int_customer_matches matches on, as staging computes them (dbt macros in customer_match_keys.sql), against
a reading of the rule written here: lower case, anything but letters, digits and spaces out, the legal suffixes out,
spaces collapsed."""

import re

import duckdb

SUFFIXES = re.compile(r"\b(ltd|limited|llp|plc|inc|co|group|holdings)\b")


def _name_key(name: str | None) -> str:
    plain = re.sub(r"[^a-z0-9 ]", " ", (name or "").lower())
    return " ".join(SUFFIXES.sub(" ", plain).split())


def test_the_reading_itself():
    assert _name_key("Beta Bakery Ltd.") == _name_key("BETA BAKERY LIMITED") == "beta bakery"
    assert _name_key("Gamma Group") == _name_key("Gamma") == "gamma"
    assert _name_key("Costco Holdings Inc") == "costco"  # "co" only as a word
    assert _name_key(None) == ""


def test_staging_keys_follow_the_rule(warehouse):
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        contacts = con.execute(
            "select contact_name, email, email_domain, name_key from staging.stg_xero__contacts"
        ).fetchall()
        companies = con.execute("select company_name, name_key from staging.stg_hubspot__companies").fetchall()
    assert contacts and companies
    for name, email, domain, key in contacts:
        assert key == _name_key(name), name
        assert domain == ((email.split("@")[1] or None) if email and "@" in email else None), email
    for name, key in companies:
        assert key == _name_key(name), name
    # The sandbox holds names the rule changes, so the comparison above is not of names left as they were.
    assert sum(key != (name or "").lower() for name, _, _, key in contacts) > 0
    assert sum(key != (name or "").lower() for name, key in companies) > 0
