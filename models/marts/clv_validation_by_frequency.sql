{#- Predicted against actual hold-out purchase days per calibration frequency (repeat
    purchase days 0, 1, ..., 6 and 7 or more): the classic BG/NBD validation plot. -#}
with

summary as (
    select * from {{ ref('int_customers_clv_summary_by_snapshot') }}
    where snapshot_name = 'calibration'
),

predictions as (
    select * from {{ ref('ml_clv_holdout_predictions') }}
),

bucketed as (
    select
        case
            when summary.repeat_purchase_days >= 7 then 7 else summary.repeat_purchase_days
        end as frequency_bucket,
        summary.holdout_purchase_days,
        predictions.predicted_purchases
    from summary
    inner join predictions
        on summary.customer_id = predictions.customer_id
),

final as (
    select
        -- ids
        cast(frequency_bucket as integer) as frequency_bucket,

        -- strings
        cast(
            case when frequency_bucket = 7 then '7+' else cast(frequency_bucket as {{ dbt.type_string() }}) end
            as {{ dbt.type_string() }}
        ) as frequency_label,

        -- numerics
        cast(count(*) as {{ dbt.type_bigint() }}) as customers,
        cast(avg(holdout_purchase_days) as {{ type_double() }}) as mean_actual_purchases,
        cast(avg(predicted_purchases) as {{ type_double() }}) as mean_predicted_purchases
    from bucketed
    group by 1, 2
)

select * from final
