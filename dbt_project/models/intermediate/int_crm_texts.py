"""One row per HubSpot note or ticket with what AR Radar reads in its text: its tone (the one definition of a
negative CRM text) and, for a note, the payment it promises.

A dbt Python model (dbt-duckdb runs it in-process) because neither can be said in SQL: tone is VADER with AR
Radar's collections lexicon (``ar_radar.scoring.crm_signals.tone``), and the promised day is read from phrases such
as "by Friday" or "next week" relative to the day the note was logged (``ar_radar.actions.promises.find_promise``).
Both readings share one pass: a second Python model ran beside this one and held dbt's other thread on Python's GIL
while the warehouse's longest chain waited (BENCHMARKS.md, nineteenth pass). Everything downstream (daily history,
features, the rules prior) reads is_negative from here; int_payment_promises selects the notes with a promise.
"""

import pandas as pd


def model(dbt, session):  # noqa: ANN001, ANN201 - dbt's Python model signature
    from ar_radar.actions.promises import find_promise
    from ar_radar.scoring.crm_signals import NEGATIVE_AT, tone

    # Incremental: only texts with a version staged since the last build are read again (VADER and the promised
    # days are most of this model's time); an edited text replaces its row (unique key), so a note edited to drop
    # its promise loses it.
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
    promises = [
        find_promise(text, logged) if kind == "note" and pd.notna(logged) else None
        for kind, text, logged in zip(texts["text_kind"], texts["text"], texts["logged_at"], strict=True)
    ]
    frame = pd.DataFrame(
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
            "promised_for": pd.Series([p and p.promised_for for p in promises], index=texts.index, dtype="object"),
            "promise_phrase": pd.Series([p and p.phrase for p in promises], index=texts.index, dtype="string"),
            "raw_loaded_at": texts["raw_loaded_at"],
        }
    )
    # DuckDB types an object column from its values: one with no promise in it would not be a date.
    return session.from_df(frame).project("* replace (cast(promised_for as date) as promised_for)")
