{#- Customer features at two reference dates: `current` (as_of) for the marts and
    `training` (as_of minus the high-value horizon) for the high-value model, so both
    are computed by the same SQL. A customer appears in a snapshot when they have at
    least one purchase line before its date. The counts, sums and times come from
    int_customer_activity_by_snapshot (incremental under `run --append`); the date
    differences and ratios are computed here for every customer on every run. Every
    column is documented in _intermediate__models.yml and dim_customers. A customer_features
    input (one row per customer with precomputed metrics, instead of order lines) gives
    `current` rows only, its features as given (counts and days rounded to whole
    numbers); tenure_days and age, when not given, come from signed_up_at and birth_year
    of the customers input.
    In the scratch build of `customer-chunks score` (macro score_changed_only) only the
    changed customers (int_customers_touched): segment_scores_touched reads nothing
    else, and computing every customer's features took 4-6 s of score at 1M. -#}
{%- set only_touched -%}
    {%- if customer_chunks.score_changed_only() %}
        where customer_id in (select customer_id from {{ ref('int_customers_touched') }})
    {%- endif %}
{%- endset %}
{%- set output_columns = [
    'snapshot_name', 'snapshot_date', 'customer_id', 'recency_days', 'frequency',
    'gross_revenue', 'returned_revenue', 'monetary', 'avg_order_value', 'tenure_days',
    'avg_days_between_orders', 'distinct_categories', 'return_rate', 'first_purchase_at',
    'last_purchase_at', 'web_sessions_90d', 'web_events_90d', 'add_to_cart_90d',
    'checkouts_90d', 'cart_to_purchase_rate', 'emails_sent', 'email_open_rate',
    'email_click_rate', 'has_unsubscribed', 'days_since_last_engagement',
    'engagement_score', 'has_web_events', 'has_engagement_events', 'signed_up_at', 'age',
    'gender', 'country'
] -%}
{%- set whole_numbers = [
    'recency_days', 'frequency', 'tenure_days', 'distinct_categories', 'web_sessions_90d',
    'web_events_90d', 'add_to_cart_90d', 'checkouts_90d', 'days_since_last_engagement'
] -%}
with
-- depends_on: {{ ref('int_customers_touched') }}

activity as (
    select * from {{ ref('int_customer_activity_by_snapshot') }}
    {{- only_touched }}
),

parameters as (
    select * from {{ ref('int_run_parameters') }}
),

customers as (
    select * from {{ ref('stg_customer_data__customers') }}
),

snapshots as (
    {{ customer_chunks.snapshot_dates('parameters') }}
),

joined as (
    select
        activity.snapshot_name,
        snapshots.snapshot_date,
        activity.customer_id,
        activity.frequency,
        activity.gross_revenue,
        activity.returned_revenue,
        activity.first_purchase_at,
        activity.last_purchase_at,
        case when parameters.has_category then activity.category_count end as distinct_categories,
        parameters.has_web_events,
        parameters.has_engagement_events,
        parameters.has_customers,
        activity.web_sessions_90d,
        activity.web_events_90d,
        activity.add_to_cart_90d,
        activity.checkouts_90d,
        activity.cart_sessions_90d,
        activity.checkout_sessions_90d,
        activity.last_web_event_at,
        activity.emails_sent,
        activity.emails_opened,
        activity.emails_clicked,
        activity.unsubscribe_flag,
        activity.last_response_at,
        activity.signed_up_at,
        activity.birth_year,
        activity.gender,
        activity.country,
        activity.last_engaged_at
    from activity
    inner join snapshots
        on activity.snapshot_name = snapshots.snapshot_name
    cross join parameters
),

measured as (
    select
        snapshot_name,
        snapshot_date,
        customer_id,

        -- purchases (ratios are computed in type_double: `x * 1.0 / y` would be an
        -- exact numeric on Postgres and a double on DuckDB and Spark)
        {{ dbt.datediff('cast(last_purchase_at as date)', 'snapshot_date', 'day') }} as recency_days,
        frequency,
        gross_revenue,
        returned_revenue,
        gross_revenue - returned_revenue as monetary,
        gross_revenue / frequency as avg_order_value,
        {{ dbt.datediff('cast(first_purchase_at as date)', 'snapshot_date', 'day') }} as tenure_days,
        case
            when frequency > 1
                then cast({{ dbt.datediff(
                    'cast(first_purchase_at as date)', 'cast(last_purchase_at as date)', 'day'
                ) }} as {{ type_double() }}) / (frequency - 1)
        end as avg_days_between_orders,
        distinct_categories,
        case when gross_revenue > 0 then returned_revenue / gross_revenue end as return_rate,
        first_purchase_at,
        last_purchase_at,

        -- web: null when no web_events input was given
        case when has_web_events then coalesce(web_sessions_90d, 0) end as web_sessions_90d,
        case when has_web_events then coalesce(web_events_90d, 0) end as web_events_90d,
        case when has_web_events then coalesce(add_to_cart_90d, 0) end as add_to_cart_90d,
        case when has_web_events then coalesce(checkouts_90d, 0) end as checkouts_90d,
        case
            when has_web_events and cart_sessions_90d > 0
                then cast(checkout_sessions_90d as {{ type_double() }}) / cart_sessions_90d
        end as cart_to_purchase_rate,

        -- marketing engagement: null when no engagement_events input was given
        case when has_engagement_events then coalesce(emails_sent, 0) end as emails_sent,
        case when emails_sent > 0 then cast(emails_opened as {{ type_double() }}) / emails_sent end
            as email_open_rate,
        case when emails_sent > 0 then cast(emails_clicked as {{ type_double() }}) / emails_sent end
            as email_click_rate,
        case when has_engagement_events then coalesce(unsubscribe_flag, 0) = 1 end as has_unsubscribed,
        {{ dbt.datediff('cast(last_engaged_at as date)', 'snapshot_date', 'day') }}
            as days_since_last_engagement,
        has_web_events,
        has_engagement_events,

        -- demographics: null when no customers input was given
        signed_up_at,
        case
            when birth_year is not null
                then extract(year from snapshot_date) - birth_year
        end as age,
        gender,
        country

    from joined
),

components as (
    {#- engagement_score parts, each 0-1 and null when it does not exist for the
        customer. CASE rather than least/greatest: those skip nulls on DuckDB and
        Spark, but not everywhere. -#}
    select
        *,
        case
            when not has_web_events then null
            when web_sessions_90d >= 10 then 1.0
            else web_sessions_90d / 10.0
        end as web_activity_part,
        case
            when email_open_rate > 1 then 1.0
            else email_open_rate
        end as email_open_part,
        case
            when email_click_rate >= 0.2 then 1.0
            else email_click_rate * 5.0
        end as email_click_part,
        case
            when not (has_web_events or has_engagement_events) then null
            when days_since_last_engagement is null or days_since_last_engagement >= 90 then 0.0
            else 1.0 - days_since_last_engagement / 90.0
        end as engagement_recency_part
    from measured
),

scored as (
    select
        *,
        {{ customer_chunks.round_number("100.0 * (
            coalesce(web_activity_part, 0)
            + coalesce(email_open_part, 0)
            + coalesce(email_click_part, 0)
            + coalesce(engagement_recency_part, 0)
        ) / nullif(
            case when web_activity_part is null then 0 else 1 end
            + case when email_open_part is null then 0 else 1 end
            + case when email_click_part is null then 0 else 1 end
            + case when engagement_recency_part is null then 0 else 1 end,
            0
        )", 1) }} as engagement_score
    from components
),

customer_level as (
    select * from {{ ref('stg_customer_data__customer_features') }}
    {{- only_touched }}
),

customer_level_features as (
    select
        'current' as snapshot_name,
        parameters.as_of_date as snapshot_date,
        customer_level.customer_id,
        {%- for feature in customer_chunks.customer_feature_columns() %}
            {%- if feature == 'tenure_days' %}
                cast(round(coalesce(
                    customer_level.tenure_days,
                    {{ dbt.datediff('cast(customers.signed_up_at as date)', 'parameters.as_of_date', 'day') }}
                )) as {{ dbt.type_bigint() }}) as tenure_days,
            {%- elif feature == 'age' %}
                cast(round(coalesce(
                    customer_level.age,
                    extract(year from parameters.as_of_date) - customers.birth_year
                )) as {{ dbt.type_bigint() }}) as age,
            {%- elif feature in whole_numbers %}
                cast(round(customer_level.{{ feature }}) as {{ dbt.type_bigint() }}) as {{ feature }},
            {%- else %}
                cast(customer_level.{{ feature }} as {{ type_double() }}) as {{ feature }},
            {%- endif %}
        {%- endfor %}
        cast(null as {{ dbt.type_timestamp() }}) as first_purchase_at,
        cast(null as {{ dbt.type_timestamp() }}) as last_purchase_at,
        cast(null as {{ dbt.type_bigint() }}) as emails_sent,
        cast(null as {{ dbt.type_boolean() }}) as has_unsubscribed,
        false as has_web_events,
        false as has_engagement_events,
        customers.signed_up_at,
        customers.gender,
        customers.country
    from customer_level
    cross join parameters
    left join customers
        on customer_level.customer_id = customers.customer_id
),

unioned as (
    select
        {%- for column in output_columns[:-1] %}
            {{ column }},
        {%- endfor %}
        {{ output_columns | last }}
    from scored
    union all
    select
        {%- for column in output_columns[:-1] %}
            {{ column }},
        {%- endfor %}
        {{ output_columns | last }}
    from customer_level_features
)

select * from unioned
