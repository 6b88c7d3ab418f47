{#- One row: the dates every feature is computed against, and which optional inputs
    were given. as_of = var('as_of'), else the day after the latest staged order line;
    with a customer_features input (no order lines) the day after the latest signed_up_at
    of the customers input, else the run's current date. The scratch build of
    `customer-chunks score` holds only the changed customers' rows: raw.append_state
    brings the latest order and signup dates of the published warehouse (null in every
    other build), so its as_of is the one a build on all the rows would get. -#}
with

transactions as (
    select * from {{ ref('stg_customer_data__transactions') }}
),

manifest as (
    select * from {{ ref('stg_customer_data__load_manifest') }}
),

customers as (
    select * from {{ ref('stg_customer_data__customers') }}
),

state as (
    select * from {{ source('customer_data', 'append_state') }}
),

latest as (
    select max(last_order_date) as last_order_date
    from (
        select cast(max(ordered_at) as date) as last_order_date from transactions
        union all
        select published_last_order_date from state
    ) as order_dates
),

latest_signup as (
    select max(last_signup_date) as last_signup_date
    from (
        select cast(max(signed_up_at) as date) as last_signup_date from customers
        union all
        select published_last_signup_date from state
    ) as signup_dates
),

inputs as (
    select
        -- bool_or, not max: Postgres has no max(boolean)
        {{ dbt.bool_or("case when table_name = 'customers' then is_provided end") }} as has_customers,
        {{ dbt.bool_or("case when table_name = 'web_events' then is_provided end") }} as has_web_events,
        {{ dbt.bool_or("case when table_name = 'engagement_events' then is_provided end") }}
            as has_engagement_events,
        {{ dbt.bool_or(
            "case when table_name = 'transactions' then "
            ~ dbt.position("'category'", 'mapped_columns') ~ " > 0 end"
        ) }} as has_category,
        {{ dbt.bool_or("case when table_name = 'customer_features' then is_provided end") }}
            as has_customer_features
    from manifest
),

dates as (
    select
        {%- if var('as_of') %}
        cast('{{ var("as_of") }}' as date) as as_of_date,
        {%- else %}
            cast(coalesce(
                {{ dbt.dateadd('day', 1, 'latest.last_order_date') }},
                {{ dbt.dateadd('day', 1, 'latest_signup.last_signup_date') }},
                {{ dbt.current_timestamp() }}
            ) as date) as as_of_date,
        {%- endif %}
        latest.last_order_date,
        latest_signup.last_signup_date
    from latest
    cross join latest_signup
),

final as (
    select
        dates.as_of_date,
        cast({{ dbt.dateadd('day', -var('high_value_horizon_days'), 'dates.as_of_date') }} as date)
            as training_cutoff_date,
        {{ var('high_value_horizon_days') }} as high_value_horizon_days,
        {{ var('web_window_days') }} as web_window_days,
        dates.last_order_date,
        dates.last_signup_date,
        coalesce(inputs.has_customers, false) as has_customers,
        coalesce(inputs.has_web_events, false) as has_web_events,
        coalesce(inputs.has_engagement_events, false) as has_engagement_events,
        coalesce(inputs.has_category, false) as has_category,
        coalesce(inputs.has_customer_features, false) as has_customer_features
    from dates
    cross join inputs
)

select * from final
