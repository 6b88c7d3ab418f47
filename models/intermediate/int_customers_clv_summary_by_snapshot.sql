{#- The CLV summary per customer at two period ends: `calibration` (calibration_end_date;
    the models are fitted and validated on it) and `current` (the day before as_of;
    every customer is scored on it). One row per snapshot and customer with a purchase
    day on or before the period end. A purchase day is a day with at least one order
    line that is not a return; zero-priced lines count (a free item is still an order).
    Times are days / time_unit_days. -#}
with

transactions as (
    select * from {{ ref('stg_customer_data__transactions') }}
),

periods as (
    select * from {{ ref('int_clv_periods') }}
),

purchase_days as (
    select
        customer_id,
        cast(ordered_at as date) as purchase_date,
        sum(cast(line_amount as {{ type_money() }})) as spend
    from transactions
    where
        not is_return
        and line_amount >= 0
        and coalesce(quantity, 1) > 0
    group by 1, 2
),

customers as (
    {#- One pass over the purchase days for both period ends (a window for the first
        day and a join per snapshot took 2.8x as long at 100k customers). Spend is
        summed exactly (type_money), so totals minus the first day are exact. -#}
    select
        purchase_days.customer_id,
        min(purchase_days.purchase_date) as first_purchase_date,
        {{ customer_chunks.min_by('purchase_days.spend', 'purchase_days.purchase_date') }}
            as first_day_spend,
        max(purchase_days.purchase_date) as last_purchase_date,
        count(*) as purchase_days,
        sum(purchase_days.spend) as spend,
        max(
            case
                when purchase_days.purchase_date <= periods.calibration_end_date
                    then purchase_days.purchase_date
            end
        ) as calibration_last_purchase_date,
        count(
            case when purchase_days.purchase_date <= periods.calibration_end_date then 1 end
        ) as calibration_purchase_days,
        sum(
            case
                when purchase_days.purchase_date <= periods.calibration_end_date
                    then purchase_days.spend
            end
        ) as calibration_spend,
        count(
            case when purchase_days.purchase_date > periods.calibration_end_date then 1 end
        ) as holdout_purchase_days,
        coalesce(sum(
            case
                when purchase_days.purchase_date > periods.calibration_end_date
                    then purchase_days.spend
            end
        ), 0) as holdout_spend
    from purchase_days
    cross join periods
    where purchase_days.purchase_date < periods.as_of_date
    group by 1
),

snapshots as (
    select
        'calibration' as snapshot_name,
        customers.customer_id,
        periods.calibration_end_date as end_date,
        periods.time_unit_days,
        customers.first_purchase_date,
        customers.calibration_last_purchase_date as last_purchase_date,
        customers.calibration_purchase_days - 1 as repeat_purchase_days,
        customers.calibration_spend - customers.first_day_spend as repeat_spend,
        customers.holdout_purchase_days,
        customers.holdout_spend
    from customers
    cross join periods
    where customers.first_purchase_date <= periods.calibration_end_date
    union all
    select
        'current' as snapshot_name,
        customers.customer_id,
        periods.current_end_date as end_date,
        periods.time_unit_days,
        customers.first_purchase_date,
        customers.last_purchase_date,
        customers.purchase_days - 1 as repeat_purchase_days,
        customers.spend - customers.first_day_spend as repeat_spend,
        null as holdout_purchase_days,
        null as holdout_spend
    from customers
    cross join periods
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
        case
            when repeat_purchase_days > 0
                then cast(repeat_spend as {{ type_double() }}) / repeat_purchase_days
        end as mean_repeat_spend,
        cast(holdout_purchase_days as {{ dbt.type_bigint() }}) as holdout_purchase_days,
        cast(holdout_spend as {{ type_double() }}) as holdout_spend,

        -- dates
        first_purchase_date,
        last_purchase_date,
        end_date

    from snapshots
)

select * from final
