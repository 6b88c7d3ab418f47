{#- Per input table: rows read, staged and quarantined. rows_read counts the rows
    loaded into raw plus the CSV lines that could not be split into columns. -#}
with

manifest as (
    select * from {{ ref('stg_customer_data__load_manifest') }}
),

quarantined as (
    select * from {{ ref('int_quarantined_rows_unioned') }}
),

staged_counts as (
    select
        'transactions' as table_name,
        count(*) as rows_staged
    from {{ ref('stg_customer_data__transactions') }}
    union all
    select
        'customers' as table_name,
        count(*) as rows_staged
    from {{ ref('stg_customer_data__customers') }}
    union all
    select
        'web_events' as table_name,
        count(*) as rows_staged
    from {{ ref('stg_customer_data__web_events') }}
    union all
    select
        'engagement_events' as table_name,
        count(*) as rows_staged
    from {{ ref('stg_customer_data__engagement_events') }}
    union all
    select
        'customer_features' as table_name,
        count(*) as rows_staged
    from {{ ref('stg_customer_data__customer_features') }}
),

quarantined_counts as (
    select
        table_name,
        count(*) as rows_quarantined
    from quarantined
    group by 1
),

final as (
    select
        manifest.table_name,
        manifest.is_provided,
        manifest.source_location,
        manifest.rows_read + manifest.lines_rejected as rows_read,
        coalesce(staged_counts.rows_staged, 0) as rows_staged,
        coalesce(quarantined_counts.rows_quarantined, 0) as rows_quarantined,
        manifest.rows_read + manifest.lines_rejected
        = coalesce(staged_counts.rows_staged, 0) + coalesce(quarantined_counts.rows_quarantined, 0)
            as is_balanced
    from manifest
    left join staged_counts
        on manifest.table_name = staged_counts.table_name
    left join quarantined_counts
        on manifest.table_name = quarantined_counts.table_name
)

select * from final
