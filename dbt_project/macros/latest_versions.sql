{% macro latest_versions(source_name, entity) %}
{#-
    The newest version of each record of a raw table (what raw.<source>_<entity>_current holds), with
    raw_loaded_at, the latest load of any of its versions. On an incremental build, only the records with a
    version loaded since the last build (the newest raw_loaded_at already staged) are read and parsed; all
    versions of such a record are compared, so a late-loaded older version never beats a newer one, and the
    result equals a full rebuild's (tests/warehouse/test_incremental.py).

    Newest: macro newest_version_order (the highest row id decides only between two versions of one load). Most
    records have one version: only those with several are ranked, on their keys and row ids; a window over every
    version would sort the whole payloads (at 3M payments that was a third of stg_xero__payments' time in a full
    rebuild).

    `versions` is read twice (the ranking and the rows kept). A full rebuild reads the raw table twice instead of
    holding every payload in memory between the reads (DuckDB's default for a CTE read twice): the ranking reads
    only the keys, and the payloads stream into json_transform. stg_xero__payments' query at 3M invoices (9M
    payments), in the build's 2.4 GB: 29-37 s -> 24-27 s on one thread, 16.5-18.4 s -> 12.2-13.7 s on two
    (BENCHMARKS.md, thirteenth pass). An incremental build's versions are the few changed records': materialized,
    its filter runs once.
-#}
    {%- set raw_versions = source(source_name, entity ~ '_versions') %}
    with versions as {{ 'materialized' if is_incremental() else 'not materialized' }} (
        select *, rowid as version_row
        from {{ raw_versions }}
        {% if is_incremental() %}
        -- The changed records' versions by row id: found on the keys alone, so only their payloads are read (a
        -- filter on the keys would read every version's payload: at 3M invoices 0.2 s instead of 1 s for the
        -- payments); by the integer record_key (macro versions_of_records_loaded_after).
        where rowid in ({{ versions_of_records_loaded_after(raw_versions,
            "(select coalesce(max(raw_loaded_at), '-infinity'::timestamptz) from " ~ this ~ ")") }})
        {% endif %}
    ),

    -- Keys with several versions, on the integer record_key first: every version of a record has its key, so the
    -- records with several versions are among these, and the ranking groups the ids of these rows only (at 1M
    -- invoices stg_xero__payments 4.1 -> 3.4 s on two threads, the same rows; BENCHMARKS.md).
    shared_keys as (
        select record_key from versions group by record_key having count(*) > 1
    ),

    several as (
        select
            tenant_id,
            record_id,
            arg_max(version_row, {{ newest_version_order('version_row') }}) as newest_row,
            max(loaded_at) as raw_loaded_at
        from versions
        where record_key in (select record_key from shared_keys)
        group by all
        having count(*) > 1
    )

    select v.* exclude (version_row), coalesce(s.raw_loaded_at, v.loaded_at) as raw_loaded_at
    from versions as v
    left join several as s on s.tenant_id = v.tenant_id and s.record_id is not distinct from v.record_id
    where s.newest_row is null or s.newest_row = v.version_row
{% endmacro %}

{#- The order that makes a version the newest of its record (arg_max of it): the latest extracted_at, then the latest
    loaded_at, then the highest row id (`row_id`). raw.<source>_<entity>_current orders the same way in SQL of its
    own (ar_radar.raw.store). -#}
{% macro newest_version_order(row_id) -%}
    struct_pack(e := extracted_at, l := loaded_at, r := {{ row_id }})
{%- endmacro %}

{#- The row ids of every version of each record of `raw_versions` that has a version loaded after `since` (a SQL
    expression), found by the integer record_key (ar_radar.raw.store): a scan of 9.3M payment versions' string keys
    took 0.25 s, of their record_keys 0.04 s. A key is a function of (tenant_id, record_id), so the rows found hold
    every version of each record they touch: a record that shares a key with a changed one is staged again from all
    its versions, the row it had (its raw_loaded_at too, so nothing downstream counts it as changed), and compared
    with itself by int_changed_xero_records (no change). A shared key costs time, never a row
    (tests/warehouse/test_incremental.py). The same property lets stg_xero__invoices and stg_xero__payments delete
    their restaged rows by record_key alone (their unique_key): every staged row with a key found is of a record
    staged again. -#}
{% macro versions_of_records_loaded_after(raw_versions, since) %}
    select rowid from {{ raw_versions }}
    where record_key in (select record_key from {{ raw_versions }} where loaded_at > {{ since }})
{% endmacro %}
