{#- Per input table (one row each, from the load manifest): exact repeats of an earlier
    row, how many the duplicate rule quarantined and how many it staged as possible
    duplicates. -#}
with

manifest as (
    select * from {{ ref('stg_customer_data__load_manifest') }}
),

checked_rows as (
    select * from {{ ref('int_checked_rows_unioned') }}
),

counted as (
    select
        table_name,
        count(case when is_repeat then 1 end) as repeated_rows,
        count(case when is_repeat and quarantine_reason = 'duplicate' then 1 end)
            as repeated_rows_quarantined,
        count(case when is_repeat and quarantine_reason is null then 1 end)
            as possible_duplicates_staged
    from checked_rows
    group by 1
),

final as (
    select
        manifest.table_name,
        '{{ customer_chunks.duplicate_rule() }}' as duplicate_rule,
        coalesce(counted.repeated_rows, 0) as repeated_rows,
        coalesce(counted.repeated_rows_quarantined, 0) as repeated_rows_quarantined,
        coalesce(counted.possible_duplicates_staged, 0) as possible_duplicates_staged
    from manifest
    left join counted
        on manifest.table_name = counted.table_name
)

select * from final
