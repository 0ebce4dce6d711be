-- The Xero invoices and payments an incremental build has to recompute: a version loaded since the last finished
-- build (run value changed_since) changed a field the warehouse's models read, or the record is new (macro
-- relevantly_changed; a new Reference or UpdatedDateUTC alone changes nothing). Both payloads are kept, so a
-- record moved to another customer or invoice reaches both; customer_fields_changed says whether a field the
-- customer models read changed (macro customer_model_fields), settlement_fields_changed whether one
-- int_invoice_settlements reads did (macro settlement_fields_changed). Read by int_touched_customers (whose
-- customers, from which day), invoice_features_history (which invoices' own rows) and int_invoice_settlements (which
-- settlements): computed once per build, not by each of them and their tests.
-- Empty in a full build, which recomputes everything.
{% set since = run_value('changed_since') %}
{% if since is none %}
select cast(null as uuid) as tenant_id, cast(null as varchar) as stream, cast(null as uuid) as record_id,
    cast(null as json) as old_payload, cast(null as json) as new_payload,
    cast(null as boolean) as customer_fields_changed, cast(null as boolean) as settlement_fields_changed
where false
{% else %}
{% set since_ts = changed_since_ts() %}
{% set ignored = ['Reference', 'UpdatedDateUTC'] %}  {# the Xero fields no model reads #}
{% for stream in ['invoices', 'payments'] %}
select {{ xero_id('tenant_id') }} as tenant_id, '{{ stream }}' as stream, {{ xero_id('record_id') }} as record_id,
    old_payload, new_payload,
    old_payload is null or json_transform(old_payload, {{ customer_model_fields(stream) }})
        is distinct from json_transform(new_payload, {{ customer_model_fields(stream) }}) as customer_fields_changed,
    {{ settlement_fields_changed(stream, 'old_payload', 'new_payload') }} as settlement_fields_changed
from ({{ relevantly_changed('xero', stream, payload_fields(stream, without=ignored), since_ts) }})
{% if not loop.last %}union all{% endif %}
{% endfor %}
{% endif %}
