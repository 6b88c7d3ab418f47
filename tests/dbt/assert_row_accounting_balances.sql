{#- Every input row is accounted for: for each table, the rows in raw (plus the CSV
    lines rejected while reading) equal the staged rows plus the quarantined rows.
    Counted here straight from the sources, independently of row_accounting. -#}
with

read_counts as (
    select
        'transactions' as table_name,
        count(*) as n
    from {{ source('customer_data', 'transactions') }}
    union all
    select
        'customers' as table_name,
        count(*) as n
    from {{ source('customer_data', 'customers') }}
    union all
    select
        'web_events' as table_name,
        count(*) as n
    from {{ source('customer_data', 'web_events') }}
    union all
    select
        'engagement_events' as table_name,
        count(*) as n
    from {{ source('customer_data', 'engagement_events') }}
    union all
    select
        'customer_features' as table_name,
        count(*) as n
    from {{ source('customer_data', 'customer_features') }}
    union all
    select
        table_name,
        count(*) as n
    from {{ source('customer_data', 'rejected_lines') }}
    group by 1
),

read_totals as (
    select
        table_name,
        sum(n) as rows_read
    from read_counts
    group by 1
),

staged as (
    select
        'transactions' as table_name,
        count(*) as n
    from {{ ref('stg_customer_data__transactions') }}
    union all
    select
        'customers' as table_name,
        count(*) as n
    from {{ ref('stg_customer_data__customers') }}
    union all
    select
        'web_events' as table_name,
        count(*) as n
    from {{ ref('stg_customer_data__web_events') }}
    union all
    select
        'engagement_events' as table_name,
        count(*) as n
    from {{ ref('stg_customer_data__engagement_events') }}
    union all
    select
        'customer_features' as table_name,
        count(*) as n
    from {{ ref('stg_customer_data__customer_features') }}
),

quarantined as (
    select
        table_name,
        count(*) as n
    from {{ ref('quarantined_rows') }}
    group by 1
),

compared as (
    select
        read_totals.table_name,
        read_totals.rows_read,
        accounting.rows_read as reported_rows_read,
        coalesce(staged.n, 0) as rows_staged,
        coalesce(quarantined.n, 0) as rows_quarantined
    from read_totals
    left join staged on read_totals.table_name = staged.table_name
    left join quarantined on read_totals.table_name = quarantined.table_name
    left join {{ ref('row_accounting') }} as accounting
        on read_totals.table_name = accounting.table_name
)

select *
from compared
where rows_read != rows_staged + rows_quarantined
    or reported_rows_read is null
    or reported_rows_read != rows_read
