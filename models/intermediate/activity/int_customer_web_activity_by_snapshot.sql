{#- What each customer did on the web before the two reference dates (`current` = as_of,
    `training` = as_of minus the high-value horizon): sessions, events, carts and
    checkouts in the web_window_days before it, and the last web event ever before it;
    one row per snapshot and customer with a web event before its date.
    int_customer_activity_by_snapshot joins it to the purchasers.

    Its own model, for the reason given in int_customer_purchases_by_snapshot; incremental
    the same way. -#}
-- depends_on: {{ ref('int_customers_touched') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ customer_chunks.delete_touched_customers() }}"
) }}
with

web_events as (
    select * from {{ ref('stg_customer_data__web_events') }}
    {{- customer_chunks.touched_customers_only() }}
),

parameters as (
    select * from {{ ref('int_run_parameters') }}
),

snapshots as (
    {{ customer_chunks.snapshot_dates('parameters') }}
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
    {#- One row per snapshot, customer and session with an event in the web window, plus
        one row per snapshot and customer for everything before the window (whatever its
        session). Only the window needs sessions: grouping every session ever by snapshot
        (19.5M groups at 1M customers) was one of the hash tables that, built at the same
        time as the order ones, ran DuckDB out of memory at 10M customers
        (bench/results/2026-12-03-10m-oom.md). -#}
    select
        snapshots.snapshot_name,
        web_session_days.customer_id,
        web_session_days.event_date
        >= {{ dbt.dateadd('day', -var('web_window_days'), 'snapshots.snapshot_date') }}
            as in_window,
        case
            when web_session_days.event_date
                >= {{ dbt.dateadd('day', -var('web_window_days'), 'snapshots.snapshot_date') }}
                then web_session_days.session_id
        end as session_id,
        sum(web_session_days.events) as events,
        sum(web_session_days.add_to_cart_events) as add_to_cart_events,
        sum(web_session_days.checkout_events) as checkout_events,
        max(web_session_days.last_event_at) as last_event_at
    from web_session_days
    inner join snapshots
        on web_session_days.event_date < snapshots.snapshot_date
    group by 1, 2, 3, 4
),

web_activity as (
    {#- sessions with no session_id are not counted as sessions (their events are) -#}
    select
        snapshot_name,
        customer_id,
        count(case when in_window and session_id is not null then 1 end) as web_sessions_90d,
        cast(sum(case when in_window then events else 0 end) as {{ dbt.type_bigint() }})
            as web_events_90d,
        cast(sum(case when in_window then add_to_cart_events else 0 end) as {{ dbt.type_bigint() }})
            as add_to_cart_90d,
        cast(sum(case when in_window then checkout_events else 0 end) as {{ dbt.type_bigint() }})
            as checkouts_90d,
        count(case when in_window and session_id is not null and add_to_cart_events > 0 then 1 end)
            as cart_sessions_90d,
        count(case when in_window and session_id is not null and checkout_events > 0 then 1 end)
            as checkout_sessions_90d,
        max(last_event_at) as last_web_event_at
    from web_session_windows
    group by 1, 2
)

select * from web_activity
