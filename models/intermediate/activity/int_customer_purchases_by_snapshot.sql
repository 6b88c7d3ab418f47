{#- What each customer bought before the two reference dates (`current` = as_of,
    `training` = as_of minus the high-value horizon): orders, revenue, returns, first and
    last purchase, categories; one row per snapshot and customer with a purchase line
    before its date. int_customer_activity_by_snapshot joins it with the web and email
    activity.

    Its own model (not a CTE of int_customer_activity_by_snapshot) so that its hash
    aggregates over the order lines run in their own statement: built at the same time as
    the web ones, they ran DuckDB out of memory at 10M customers and 10GB
    (bench/results/2026-12-03-10m-oom.md); apart, each fits.

    Incremental the same way as int_customer_activity_by_snapshot (see there).
    `lines` is where purchase_lines and order_first_purchases read the order lines: the
    CTE `transactions` when incremental, the staged table again on a full run (the
    reasons are at purchase_lines). -#}
-- depends_on: {{ ref('int_customers_touched') }}
{%- set lines = 'transactions' if is_incremental() else ref('stg_customer_data__transactions') %}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ customer_chunks.delete_touched_customers() }}"
) }}
with

transactions as (
    select * from {{ ref('stg_customer_data__transactions') }}
    {{- customer_chunks.touched_customers_only() }}
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
    from {{ lines }}
    where is_purchase
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
    from {{ lines }}
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
    group by 1, 2
),

purchase_history as (
    select
        purchase_orders.snapshot_name,
        purchase_orders.customer_id,
        purchase_orders.gross_revenue,
        purchase_orders.returned_revenue,
        purchase_orders.first_purchase_at,
        purchase_orders.last_purchase_at,
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
)

select * from purchase_history
where frequency > 0
