{% macro latest_versions(source_name, entity) %}
{#-
    The newest version of each record of a raw table (what raw.<source>_<entity>_current holds), with
    raw_loaded_at, the latest load of any of its versions. On an incremental build, only the records with a
    version loaded since the last build (the newest raw_loaded_at already staged) are read and parsed; all
    versions of such a record are compared, so a late-loaded older version never beats a newer one, and the
    result equals a full rebuild's (tests/warehouse/test_incremental.py).
-#}
    select *, max(loaded_at) over (partition by tenant_id, record_id) as raw_loaded_at
    from {{ source(source_name, entity ~ '_versions') }} as v
    {% if is_incremental() %}
    where exists (
        select 1 from {{ source(source_name, entity ~ '_versions') }} as changed
        where changed.loaded_at > (select coalesce(max(raw_loaded_at), '-infinity'::timestamptz) from {{ this }})
          and changed.tenant_id = v.tenant_id
          and changed.record_id is not distinct from v.record_id
    )
    {% endif %}
    qualify row_number() over (partition by tenant_id, record_id order by extracted_at desc, loaded_at desc) = 1
{% endmacro %}
