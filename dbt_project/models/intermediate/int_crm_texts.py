"""One row per HubSpot note or ticket with its tone: the one definition of a negative CRM text.

A dbt Python model (dbt-duckdb runs it in-process) because tone is VADER with AR Radar's collections
lexicon (``ar_radar.scoring.crm_signals.tone``), which SQL cannot express. Everything downstream (daily
history, features, the rules prior) reads is_negative from here.
"""

import pandas as pd


def model(dbt, session):  # noqa: ANN001, ANN201 - dbt's Python model signature
    from ar_radar.scoring.crm_signals import NEGATIVE_AT, tone

    # Incremental: only texts with a version staged since the last build are scored again (VADER is most of
    # this model's time); an edited text replaces its row (unique key).
    dbt.config(materialized="incremental", incremental_strategy="delete+insert", unique_key=["text_kind", "text_id"])
    notes = dbt.ref("stg_hubspot__notes").project(
        "'note' as text_kind, note_id as text_id, company_id, noted_at as logged_at, "
        "cast(null as timestamptz) as closed_at, body_text as text, mentions_dispute, raw_loaded_at"
    )
    tickets = dbt.ref("stg_hubspot__tickets").project(
        "'ticket' as text_kind, ticket_id as text_id, company_id, created_at as logged_at, closed_at, "
        "concat_ws('. ', subject, content) as text, mentions_dispute, raw_loaded_at"
    )
    texts = notes.union(tickets)
    if dbt.is_incremental:
        [(since,)] = session.sql(f"select max(raw_loaded_at) from {dbt.this}").fetchall()
        if since is not None:
            texts = texts.filter(f"raw_loaded_at > '{since.isoformat()}'::timestamptz")
    texts = texts.df()
    tones = tone(texts["text"]) if len(texts) else []
    return pd.DataFrame(
        {
            "text_kind": texts["text_kind"].astype(str),
            "text_id": texts["text_id"].astype(str),
            "company_id": texts["company_id"],
            "logged_at": texts["logged_at"],
            "closed_at": texts["closed_at"],
            "text": texts["text"].astype("string"),
            "tone": pd.Series(tones, index=texts.index, dtype="float64"),
            "is_negative": pd.Series(tones, index=texts.index, dtype="float64") <= NEGATIVE_AT,
            "mentions_dispute": texts["mentions_dispute"].astype(bool),
            "raw_loaded_at": texts["raw_loaded_at"],
        }
    )
