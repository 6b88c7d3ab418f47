{#- Per input table: exact repeats of an earlier row, how many the duplicate rule
    quarantined and how many it staged as possible duplicates. -#}
with

transactions as (
    select * from {{ ref('base_customer_data__transactions_checked') }}
),

customers as (
    select * from {{ ref('base_customer_data__customers_checked') }}
),

web_events as (
    select * from {{ ref('base_customer_data__web_events_checked') }}
),

engagement_events as (
    select * from {{ ref('base_customer_data__engagement_events_checked') }}
),

customer_features as (
    select * from {{ ref('base_customer_data__customer_features_checked') }}
),

counted as (
    {%- for table in ['transactions', 'customers', 'web_events', 'engagement_events', 'customer_features'] %}
        select
            '{{ table }}' as table_name,
            '{{ customer_chunks.duplicate_rule() }}' as duplicate_rule,
            count(case when is_repeat then 1 end) as repeated_rows,
            count(case when is_repeat and quarantine_reason = 'duplicate' then 1 end)
                as repeated_rows_quarantined,
            count(case when is_repeat and quarantine_reason is null then 1 end)
                as possible_duplicates_staged
        from {{ table }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
)

select * from counted
