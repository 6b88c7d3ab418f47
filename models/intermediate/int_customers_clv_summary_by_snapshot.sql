{#- The CLV customer summary at two period ends: `calibration` (calibration_end_date;
    the models are fitted and validated on it) and `current` (the day before as_of;
    every customer is scored on it). One row per snapshot and customer with an order
    on or before the period end. A purchase day is a day with at least one order line
    that is not a return; zero-priced lines count (a free item is still an order).
    Times are days / time_unit_days. -#}
with

transactions as (
    select * from {{ ref('stg_customer_data__transactions') }}
),

periods as (
    select * from {{ ref('int_clv_periods') }}
),

snapshots as (
    select
        'calibration' as snapshot_name,
        calibration_end_date as end_date,
        as_of_date,
        time_unit_days
    from periods
    union all
    select
        'current' as snapshot_name,
        current_end_date as end_date,
        as_of_date,
        time_unit_days
    from periods
),

purchase_days as (
    select
        customer_id,
        cast(ordered_at as date) as purchase_date,
        sum(cast(line_amount as {{ type_double() }})) as spend
    from transactions
    where
        not is_return
        and line_amount >= 0
        and coalesce(quantity, 1) > 0
    group by 1, 2
),

purchase_days_flagged as (
    select
        customer_id,
        purchase_date,
        spend,
        purchase_date = min(purchase_date) over (partition by customer_id) as is_first_purchase_day
    from purchase_days
),

summarised as (
    select
        snapshots.snapshot_name,
        purchase_days_flagged.customer_id,
        snapshots.end_date,
        snapshots.time_unit_days,
        min(purchase_days_flagged.purchase_date) as first_purchase_date,
        max(
            case when purchase_days_flagged.purchase_date <= snapshots.end_date then purchase_days_flagged.purchase_date end
        ) as last_purchase_date,
        count(
            case when purchase_days_flagged.purchase_date <= snapshots.end_date then 1 end
        ) - 1 as repeat_purchase_days,
        sum(
            case
                when
                    purchase_days_flagged.purchase_date <= snapshots.end_date
                    and not purchase_days_flagged.is_first_purchase_day
                    then purchase_days_flagged.spend
            end
        ) as repeat_spend,
        count(
            case when purchase_days_flagged.purchase_date > snapshots.end_date then 1 end
        ) as holdout_purchase_days,
        coalesce(sum(
            case when purchase_days_flagged.purchase_date > snapshots.end_date then purchase_days_flagged.spend end
        ), 0) as holdout_spend
    from purchase_days_flagged
    cross join snapshots
    where purchase_days_flagged.purchase_date < snapshots.as_of_date
    group by 1, 2, 3, 4
),

final as (
    select
        -- ids
        snapshot_name,
        customer_id,

        -- numerics
        repeat_purchase_days,
        {{ dbt.datediff('first_purchase_date', 'last_purchase_date', 'day') }} / time_unit_days
            as recency_time,
        {{ dbt.datediff('first_purchase_date', 'end_date', 'day') }} / time_unit_days as age_time,
        case when repeat_purchase_days > 0 then repeat_spend / repeat_purchase_days end
            as mean_repeat_spend,
        case when snapshot_name = 'calibration' then holdout_purchase_days end as holdout_purchase_days,
        case when snapshot_name = 'calibration' then holdout_spend end as holdout_spend,

        -- dates
        first_purchase_date,
        last_purchase_date,
        end_date

    from summarised
    where first_purchase_date <= end_date
)

select * from final
