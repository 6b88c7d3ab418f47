{#- Every input row that was not staged, with its table, position and reason. -#}
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

rejected_lines as (
    select * from {{ ref('stg_customer_data__rejected_lines') }}
),

unioned as (
    {%- for table in ['transactions', 'customers', 'web_events', 'engagement_events', 'customer_features'] %}
        select
            '{{ table }}' as table_name,
            source_row_id,
            cast(null as {{ dbt.type_bigint() }}) as source_line_number,
            quarantine_reason,
            source_values
        from {{ table }}
        where quarantine_reason is not null
        union all
    {%- endfor %}
    select
        table_name,
        cast(null as {{ dbt.type_bigint() }}) as source_row_id,
        line_number as source_line_number,
        'malformed_line' as quarantine_reason,
        {{ dbt.concat(["coalesce(line, '')", "' | '", "coalesce(error, '')"]) }} as source_values
    from rejected_lines
)

select * from unioned
