{#- What each customer did before the two reference dates (`current` = as_of,
    `training` = as_of minus the high-value horizon): counts, sums, first and last
    times, one row per snapshot and customer with a purchase line before its date.
    int_customer_features_by_snapshot turns these into features. The purchases and the
    web activity are their own models (int_customer_purchases_by_snapshot,
    int_customer_web_activity_by_snapshot), so that each statement builds only its own
    hash aggregates (one statement ran DuckDB out of memory at 10M customers); the
    email activity, small, is computed here.

    Incremental: a full run computes every customer; `customer-chunks run --append`
    deletes and recomputes only the customers in int_customers_touched (new rows, or
    events between the old and new reference dates). Nothing else here depends on the
    dates, so the other customers' rows stay as they are. -#}
-- depends_on: {{ ref('int_customers_touched') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ customer_chunks.delete_touched_customers() }}"
) }}
with

purchases as (
    select * from {{ ref('int_customer_purchases_by_snapshot') }}
    {{- customer_chunks.touched_customers_only() }}
),

web_activity as (
    select * from {{ ref('int_customer_web_activity_by_snapshot') }}
    {{- customer_chunks.touched_customers_only() }}
),

engagement_events as (
    select * from {{ ref('stg_customer_data__engagement_events') }}
    {{- customer_chunks.touched_customers_only() }}
),

customers as (
    select * from {{ ref('stg_customer_data__customers') }}
    {{- customer_chunks.touched_customers_only() }}
),

parameters as (
    select * from {{ ref('int_run_parameters') }}
),

snapshots as (
    {{ customer_chunks.snapshot_dates('parameters') }}
),

engagement_activity as (
    select
        snapshots.snapshot_name,
        engagement_events.customer_id,
        count(case
            when engagement_events.channel = 'email' and engagement_events.event_type = 'sent'
                then 1
        end) as emails_sent,
        count(case
            when engagement_events.channel = 'email' and engagement_events.event_type = 'open'
                then 1
        end) as emails_opened,
        count(case
            when engagement_events.channel = 'email' and engagement_events.event_type = 'click'
                then 1
        end) as emails_clicked,
        max(case
            when engagement_events.event_type = 'unsubscribe' then 1 else 0
        end) as unsubscribe_flag,
        max(case
            when engagement_events.event_type in ('open', 'click') then engagement_events.occurred_at
        end) as last_response_at
    from engagement_events
    inner join snapshots
        on engagement_events.occurred_at < snapshots.snapshot_date
    group by 1, 2
),

joined as (
    select
        purchases.snapshot_name,
        purchases.customer_id,
        purchases.frequency,
        purchases.gross_revenue,
        purchases.returned_revenue,
        purchases.first_purchase_at,
        purchases.last_purchase_at,
        purchases.category_count,
        web_activity.web_sessions_90d,
        web_activity.web_events_90d,
        web_activity.add_to_cart_90d,
        web_activity.checkouts_90d,
        web_activity.cart_sessions_90d,
        web_activity.checkout_sessions_90d,
        web_activity.last_web_event_at,
        engagement_activity.emails_sent,
        engagement_activity.emails_opened,
        engagement_activity.emails_clicked,
        engagement_activity.unsubscribe_flag,
        engagement_activity.last_response_at,
        customers.signed_up_at,
        customers.birth_year,
        customers.gender,
        customers.country,
        case
            when engagement_activity.last_response_at is null
                or web_activity.last_web_event_at > engagement_activity.last_response_at
                then web_activity.last_web_event_at
            else engagement_activity.last_response_at
        end as last_engaged_at
    from purchases
    left join web_activity
        on
            purchases.snapshot_name = web_activity.snapshot_name
            and purchases.customer_id = web_activity.customer_id
    left join engagement_activity
        on
            purchases.snapshot_name = engagement_activity.snapshot_name
            and purchases.customer_id = engagement_activity.customer_id
    left join customers
        on purchases.customer_id = customers.customer_id
)

select * from joined
