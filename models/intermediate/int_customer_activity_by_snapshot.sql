{#- What each customer did before the two reference dates (`current` = as_of,
    `training` = as_of minus the high-value horizon): counts, sums, first and last
    times, one row per snapshot and customer with a purchase line before its date.
    int_customer_features_by_snapshot turns these into features.

    Incremental: a full run computes every customer; `customer-chunks run --append`
    deletes and recomputes only the customers in int_customers_touched (new rows, or
    events between the old and new reference dates). Nothing else here depends on the
    dates, so the other customers' rows stay as they are. -#}
-- depends_on: {{ ref('int_customers_touched') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where customer_id in
        (select customer_id from {{ ref('int_customers_touched') }}){% endif %}"
) }}
{%- set only_touched -%}
    {%- if is_incremental() %}
        where customer_id in (select customer_id from {{ ref('int_customers_touched') }})
    {%- endif %}
{%- endset %}
with

transactions as (
    select * from {{ ref('stg_customer_data__transactions') }}
    {{- only_touched }}
),

purchase_lines as (
    {#- Incremental: the touched customers' lines, read from `transactions` (a few
        hundred thousand at 1M customers, which DuckDB materialises once) rather than
        a second filtered scan of the staged table (3-4 s of score at 1M). A full run
        imports the model again: DuckDB materialises a CTE that is used twice, which
        there meant writing 45M lines and reading them back (the model took 67 s at 1M
        customers, 51 s without, with identical output). -#}
    select
        customer_id,
        category,
        ordered_at
    {% if is_incremental() -%}
        from transactions
    {%- else -%}
        from {{ ref('stg_customer_data__transactions') }}
    {%- endif %}
    where is_purchase
),

web_events as (
    select * from {{ ref('stg_customer_data__web_events') }}
    {{- only_touched }}
),

engagement_events as (
    select * from {{ ref('stg_customer_data__engagement_events') }}
    {{- only_touched }}
),

customers as (
    select * from {{ ref('stg_customer_data__customers') }}
    {{- only_touched }}
),

parameters as (
    select * from {{ ref('int_run_parameters') }}
),

snapshots as (
    {{ customer_chunks.snapshot_dates('parameters') }}
),

order_times as (
    {#- One row per order and time: ~5x fewer rows than lines, so the snapshot join and
        the customer aggregation below are cheaper than on lines (measured at 1M
        customers: the model went from 92 s to 55 s with identical output). -#}
    select
        customer_id,
        order_id,
        ordered_at,
        {{ dbt.bool_or('is_purchase') }} as has_purchase,
        {#- money is summed as an exact decimal (see macros/type_money.sql) -#}
        sum(case when is_purchase then cast(line_amount as {{ type_money() }}) else 0 end)
            as gross_revenue,
        sum(case when is_return then -cast(line_amount as {{ type_money() }}) else 0 end)
            as returned_revenue
    from transactions
    group by 1, 2, 3
),

category_firsts as (
    select
        customer_id,
        category,
        min(ordered_at) as first_purchase_at
    from purchase_lines
    where category is not null
    group by 1, 2
),

category_history as (
    {#- categories bought before the snapshot = categories first bought before it -#}
    select
        snapshots.snapshot_name,
        category_firsts.customer_id,
        count(*) as category_count
    from category_firsts
    inner join snapshots
        on category_firsts.first_purchase_at < snapshots.snapshot_date
    group by 1, 2
),

order_first_purchases as (
    {#- When each order first had a purchase line: an order counts towards a snapshot's
        frequency when that time is before the snapshot date. This replaces a
        count(distinct order_id) per snapshot and customer, whose hash table of every
        (snapshot, customer, order) spilled 7.2 GiB at 1M customers under a 1.5GB
        memory limit (the proxy for 10M at 12GB; bench/results/2026-12-03-spill-1m-proxy.md).
        A third import of the staged lines on a full run, for the reason given at
        purchase_lines; incremental, the touched customers' lines of `transactions`. -#}
    select
        customer_id,
        order_id,
        min(ordered_at) as first_purchase_at
    {% if is_incremental() -%}
        from transactions
    {%- else -%}
        from {{ ref('stg_customer_data__transactions') }}
    {%- endif %}
    where is_purchase
    group by 1, 2
),

order_counts as (
    select
        snapshots.snapshot_name,
        order_first_purchases.customer_id,
        count(*) as frequency
    from order_first_purchases
    inner join snapshots
        on order_first_purchases.first_purchase_at < snapshots.snapshot_date
    group by 1, 2
),

purchase_orders as (
    select
        snapshots.snapshot_name,
        snapshots.snapshot_date,
        order_times.customer_id,
        cast(sum(order_times.gross_revenue) as {{ type_double() }}) as gross_revenue,
        cast(sum(order_times.returned_revenue) as {{ type_double() }}) as returned_revenue,
        min(case when order_times.has_purchase then order_times.ordered_at end)
            as first_purchase_at,
        max(case when order_times.has_purchase then order_times.ordered_at end)
            as last_purchase_at
    from order_times
    inner join snapshots
        on order_times.ordered_at < snapshots.snapshot_date
    group by 1, 2, 3
),

purchase_history as (
    select
        purchase_orders.*,
        coalesce(order_counts.frequency, 0) as frequency,
        coalesce(category_history.category_count, 0) as category_count
    from purchase_orders
    left join order_counts
        on
            purchase_orders.snapshot_name = order_counts.snapshot_name
            and purchase_orders.customer_id = order_counts.customer_id
    left join category_history
        on
            purchase_orders.snapshot_name = category_history.snapshot_name
            and purchase_orders.customer_id = category_history.customer_id
),

purchasers as (
    select * from purchase_history
    where frequency > 0
),

web_session_days as (
    {#- One row per session and day, so the snapshot join and the session counts below
        run on ~5x fewer rows than events (41M -> 7.4M on the 1M benchmark data) and
        need no count(distinct), which cannot spill to disk. Exact: the window bounds are midnights, so a day is either
        wholly inside or wholly outside it. -#}
    select
        customer_id,
        session_id,
        cast(occurred_at as date) as event_date,
        count(*) as events,
        count(case when event_type = 'add_to_cart' then 1 end) as add_to_cart_events,
        count(case when event_type = 'checkout' then 1 end) as checkout_events,
        max(occurred_at) as last_event_at
    from web_events
    group by 1, 2, 3
),

web_session_windows as (
    select
        snapshots.snapshot_name,
        web_session_days.customer_id,
        web_session_days.session_id,
        sum(case
            when web_session_days.event_date >= {{ dbt.dateadd('day', -var('web_window_days'), 'snapshots.snapshot_date') }}
                then web_session_days.events
            else 0
        end) as events,
        sum(case
            when web_session_days.event_date >= {{ dbt.dateadd('day', -var('web_window_days'), 'snapshots.snapshot_date') }}
                then web_session_days.add_to_cart_events
            else 0
        end) as add_to_cart_events,
        sum(case
            when web_session_days.event_date >= {{ dbt.dateadd('day', -var('web_window_days'), 'snapshots.snapshot_date') }}
                then web_session_days.checkout_events
            else 0
        end) as checkout_events,
        max(web_session_days.last_event_at) as last_event_at
    from web_session_days
    inner join snapshots
        on web_session_days.event_date < snapshots.snapshot_date
    group by 1, 2, 3
),

web_activity as (
    {#- sessions with no session_id are not counted as sessions (their events are) -#}
    select
        snapshot_name,
        customer_id,
        count(case when session_id is not null and events > 0 then 1 end) as web_sessions_90d,
        cast(sum(events) as {{ dbt.type_bigint() }}) as web_events_90d,
        cast(sum(add_to_cart_events) as {{ dbt.type_bigint() }}) as add_to_cart_90d,
        cast(sum(checkout_events) as {{ dbt.type_bigint() }}) as checkouts_90d,
        count(case when session_id is not null and add_to_cart_events > 0 then 1 end)
            as cart_sessions_90d,
        count(case when session_id is not null and checkout_events > 0 then 1 end)
            as checkout_sessions_90d,
        max(last_event_at) as last_web_event_at
    from web_session_windows
    group by 1, 2
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
        purchasers.snapshot_name,
        purchasers.customer_id,
        purchasers.frequency,
        purchasers.gross_revenue,
        purchasers.returned_revenue,
        purchasers.first_purchase_at,
        purchasers.last_purchase_at,
        purchasers.category_count,
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
    from purchasers
    left join web_activity
        on
            purchasers.snapshot_name = web_activity.snapshot_name
            and purchasers.customer_id = web_activity.customer_id
    left join engagement_activity
        on
            purchasers.snapshot_name = engagement_activity.snapshot_name
            and purchasers.customer_id = engagement_activity.customer_id
    left join customers
        on purchasers.customer_id = customers.customer_id
)

select * from joined
