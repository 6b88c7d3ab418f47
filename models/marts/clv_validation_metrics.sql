{#- One row: how well BG/NBD, fitted on the calibration period, predicts each
    customer's purchase days in the hold-out (mean absolute error, correlation, totals).
    Metrics are null when the model did not converge or the hold-out is empty. -#}
with

summary as (
    select * from {{ ref('int_customers_clv_summary_by_snapshot') }}
    where snapshot_name = 'calibration'
),

predictions as (
    select * from {{ ref('ml_clv_holdout_predictions') }}
),

periods as (
    select * from {{ ref('int_clv_periods') }}
),

paired as (
    select
        cast(summary.holdout_purchase_days as {{ type_double() }}) as actual_purchases,
        predictions.predicted_purchases
    from summary
    inner join predictions
        on summary.customer_id = predictions.customer_id
),

metrics as (
    select
        count(*) as customers,
        count(predicted_purchases) as customers_predicted,
        avg(abs(predicted_purchases - actual_purchases)) as mean_absolute_error,
        corr(predicted_purchases, actual_purchases) as correlation,  -- noqa: RF04
        sum(case when predicted_purchases is not null then actual_purchases end)
            as total_actual_purchases,
        sum(predicted_purchases) as total_predicted_purchases
    from paired
),

final as (
    select
        -- numerics
        cast(metrics.customers as {{ dbt.type_bigint() }}) as customers,
        cast(metrics.customers_predicted as {{ dbt.type_bigint() }}) as customers_predicted,
        cast(periods.holdout_days as integer) as holdout_days,
        cast(metrics.mean_absolute_error as {{ type_double() }}) as mean_absolute_error,
        cast(metrics.correlation as {{ type_double() }}) as correlation,  -- noqa: RF04
        cast(metrics.total_actual_purchases as {{ type_double() }}) as total_actual_purchases,
        cast(metrics.total_predicted_purchases as {{ type_double() }}) as total_predicted_purchases,

        -- dates
        periods.calibration_end_date,
        periods.as_of_date

    from metrics
    cross join periods
)

select * from final
