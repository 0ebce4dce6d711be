{#-
    The keys int_customer_matches matches a Xero contact to a HubSpot company on, one definition each: staging computes
    them once per record version (stg_xero__contacts, stg_hubspot__contacts, stg_hubspot__companies), and an
    incremental build reads the last build's versions of the changed HubSpot records through the same macros (macro
    rematched_customers).
-#}

{#- lower case, punctuation out, legal suffixes (ltd, limited, llp, plc, inc, co, group, holdings) out. -#}
{% macro normalise_company_name(expr) -%}
    trim(regexp_replace(
        regexp_replace(lower(coalesce({{ expr }}, '')), '[^a-z0-9 ]', ' ', 'g'),
        '\b(ltd|limited|llp|plc|inc|co|group|holdings)\b|\s+', ' ', 'g'
    ))
{%- endmacro %}

{#- An email's domain (null without one). -#}
{% macro email_domain(email) -%}
    nullif(split_part({{ email }}, '@', 2), '')
{%- endmacro %}

{#- A Xero contact's email, lower case (from its payload). -#}
{% macro xero_contact_email(payload) -%}
    lower(nullif(trim({{ payload }} ->> 'EmailAddress'), ''))
{%- endmacro %}

{#- A HubSpot contact's email, lower case (from its payload). -#}
{% macro hubspot_contact_email(payload) -%}
    lower(nullif(trim({{ payload }} -> 'properties' ->> 'email'), ''))
{%- endmacro %}

{#- A HubSpot company's name and domain, the domain lower case (from its payload). -#}
{% macro hubspot_company_name(payload) -%}
    {{ payload }} -> 'properties' ->> 'name'
{%- endmacro %}

{% macro hubspot_company_domain(payload) -%}
    lower(nullif(trim({{ payload }} -> 'properties' ->> 'domain'), ''))
{%- endmacro %}
