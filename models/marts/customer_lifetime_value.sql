{#- One row per customer with an order before as_of: the CLV summary up to the day
    before as_of and the CLV scores from the models fitted on the calibration period.
    Columns: _clv__models.yml. -#}
with

summary as (
    select * from {{ ref('int_customers_clv_summary_by_snapshot') }}
    where snapshot_name = 'current'
),

scores as (
    select * from {{ ref('ml_clv_scores') }}
),

final as (
    select
        -- ids
        summary.customer_id,

        -- numerics
        summary.repeat_purchase_days,
        summary.recency_time,
        summary.age_time,
        summary.mean_repeat_spend,
        cast(scores.probability_alive as {{ type_double() }}) as probability_alive,
        cast(scores.expected_purchases as {{ type_double() }}) as expected_purchases,
        cast(scores.expected_average_spend as {{ type_double() }}) as expected_average_spend,
        cast(scores.lifetime_value as {{ type_double() }}) as lifetime_value,

        -- dates
        summary.first_purchase_date,
        summary.last_purchase_date

    from summary
    left join scores
        on summary.customer_id = scores.customer_id
)

select * from final
