-- The notes that promise a payment, with the day promised: int_crm_texts reads the promise (its one Python pass over
-- the CRM texts, ar_radar.actions.promises.find_promise); this table keeps the queue's and the drafts' reading of it.
-- A table of the notes with one (a filter of int_crm_texts, whose incremental build replaces an edited note's row).
select text_id as note_id, company_id, logged_at as noted_at, promised_for, promise_phrase
from {{ ref('int_crm_texts') }}
where text_kind = 'note' and promised_for is not null
