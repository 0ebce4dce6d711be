"""One row per HubSpot note that promises a payment, with the day promised (``ar_radar.actions.promises``).

A dbt Python model: the promised day is read from phrases such as "by Friday" or "next week" relative to the day the
note was logged, which SQL cannot do. Whether a promise is pending or broken depends on the run's day: the queue and
the reminder drafts judge that (``promises.status``).
"""

import pandas as pd


def model(dbt, session):  # noqa: ANN001, ANN201 - dbt's Python model signature
    from ar_radar.actions.promises import find_promise
    from ar_radar.warehouse.build import changed_since_for_python_models

    # Incremental: only the notes staged since the last finished build are read again (reading the dates is this
    # model's time, and the notes only grow); the pre-hook in int_payment_promises.yml first takes away those
    # notes' rows, so a note edited to drop its promise loses its row. Without changed_since: every note.
    dbt.config(materialized="incremental", incremental_strategy="delete+insert", unique_key=["note_id"])
    notes = dbt.ref("stg_hubspot__notes").project("note_id, company_id, noted_at, body_text, raw_loaded_at")
    since = changed_since_for_python_models()
    if dbt.is_incremental and since is not None:
        notes = notes.filter(f"raw_loaded_at > '{since}'::timestamptz")
    notes = notes.df()
    rows = []
    for note in notes.itertuples(index=False):
        found = find_promise(note.body_text, note.noted_at) if pd.notna(note.noted_at) else None
        if found is not None:
            rows.append((str(note.note_id), note.company_id, note.noted_at, found.promised_for, found.phrase))
    frame = pd.DataFrame(rows, columns=["note_id", "company_id", "noted_at", "promised_for", "promise_phrase"])
    frame["promised_for"] = pd.to_datetime(frame["promised_for"]).dt.date
    return frame.astype({"note_id": "string", "company_id": "string", "promise_phrase": "string"})
