{#-
    int_customer_matches is incremental by contact: a build with changed_since (macro run_value) matches again only
    the Xero contacts whose match a change since the last build can move, and keeps every other row. A contact's
    match reads its own email, domain and name key (stg_xero__contacts), the HubSpot contacts with its email (and
    their company), the companies with its domain or its name key, and the seed customer_match_overrides (a changed
    seed changes the project's hash: a full rebuild). So a contact is matched again when:
      * it was staged since the last build (a new contact, or a new version of one);
      * a HubSpot contact with a version loaded since, whose email or company associations changed (macro
        relevantly_changed), had or has its email: the last build's version and the new one;
      * a company with a version loaded since, whose name or domain changed, had or has its domain or name key.
    The older versions come from raw (the version the last build had), through the macros staging computes the
    keys with (customer_match_keys.sql). A rule that finds one more or one fewer candidate can move a contact even
    when its match named another company (a second candidate of a rule makes it ambiguous, or lets a later rule
    decide), so the keys decide, not the last match.
    Without changed_since (a partial build by selection) every contact is matched again.
    The pre-hooks keep the contacts matched again, with their last match, in int_customer_matches_rematched (which
    int_touched_customers compares with the new matches: whose HubSpot company changed), then take their rows away;
    a full build keeps every contact there, as changed.
-#}

{#- Where the pre-hook keeps them: beside `matches` (int_customer_matches: `this` in the model, its ref elsewhere), not
    a dbt node (it describes one build). -#}
{% macro rematched_customers_relation(matches) -%}
    {{ matches.schema }}.int_customer_matches_rematched
{%- endmacro %}

{#- A row of a contact matched again (the model's delete, and its select's contacts). -#}
{% macro rematched_customer_row() -%}
    (tenant_id, contact_id) in (select tenant_id, contact_id from {{ rematched_customers_relation(this) }})
{%- endmacro %}

{% macro rematch_customers() %}
    create or replace table {{ rematched_customers_relation(this) }} as
    {% if is_incremental() -%}
    {{ rematched_customers() }}
    {%- else -%}
    -- Matched in full: whose company changed is not known, so every contact counts as changed (read only if
    -- int_touched_customers is incremental while this model was rebuilt alone, e.g. after its table was dropped).
    select tenant_id, contact_id, '(matched in full)' as previous_hubspot_company_id
    from {{ ref('stg_xero__contacts') }}
    {%- endif %}
{% endmacro %}

{% macro delete_rematched_customers() %}
    {% if is_incremental() %}
    delete from {{ this }} where {{ rematched_customer_row() }}
    {% endif %}
{% endmacro %}

{#- The contacts matched again (tenant_id, contact_id) and their last build's company (previous_hubspot_company_id). -#}
{% macro rematched_customers() %}
    {%- set since_ts = changed_since_ts() -%}
    {%- if since_ts is not none -%}
    {%- set contact_fields = "'" ~ tojson({'properties': {'email': 'VARCHAR'}, 'associations': 'JSON'}) ~ "'" -%}
    {%- set company_fields = "'" ~ tojson({'properties': {'name': 'VARCHAR', 'domain': 'VARCHAR'}}) ~ "'" -%}
    with hubspot_contacts as (
        {{ relevantly_changed('hubspot', 'contacts', contact_fields, since_ts) }}
    ),

    hubspot_companies as (
        {{ relevantly_changed('hubspot', 'companies', company_fields, since_ts) }}
    ),

    keys as (
        select {{ hubspot_contact_email('v.payload') }} as email, null as domain, null as name_key
        from hubspot_contacts, unnest([old_payload, new_payload]) as v (payload)
        union all
        select null, {{ hubspot_company_domain('v.payload') }},
            {{ normalise_company_name(hubspot_company_name('v.payload')) }}
        from hubspot_companies, unnest([old_payload, new_payload]) as v (payload)
    )

    {% endif -%}
    select c.tenant_id, c.contact_id, m.hubspot_company_id as previous_hubspot_company_id
    from {{ ref('stg_xero__contacts') }} as c
    left join {{ this }} as m using (tenant_id, contact_id)
    {%- if since_ts is not none %}
    where c.raw_loaded_at > {{ since_ts }}
       or c.email in (select email from keys)
       or c.email_domain in (select domain from keys)
       or c.name_key in (select name_key from keys where name_key <> '')
    {%- endif %}
{% endmacro %}
