{#- Training rows for the high-value model: each customer's features as of the
    training cutoff (as_of minus high_value_horizon_days) and what they then spent in
    the horizon [cutoff, as_of). The label (top high_value_top_share of horizon spend)
    is drawn from horizon_spend in the ML step, so the features never see the future. -#}
with

training_features as (
    select * from {{ ref('int_customer_features_by_snapshot') }}
    where snapshot_name = 'training'
),

transactions as (
    select * from {{ ref('stg_customer_data__transactions') }}
),

parameters as (
    select * from {{ ref('int_run_parameters') }}
),

horizon_spend as (
    select
        transactions.customer_id,
        {#- summed as an exact decimal (see macros/type_money.sql) -#}
        cast(sum(cast(transactions.line_amount as {{ type_money() }})) as {{ type_double() }})
            as horizon_spend
    from transactions
    cross join parameters
    where
        transactions.is_purchase
        and transactions.ordered_at >= parameters.training_cutoff_date
        and transactions.ordered_at < parameters.as_of_date
    group by 1
),

final as (
    select
        training_features.*,
        coalesce(horizon_spend.horizon_spend, 0) as horizon_spend
    from training_features
    left join horizon_spend
        on training_features.customer_id = horizon_spend.customer_id
)

select * from final
