{#- One row per CLV model and parameter: the maximum-likelihood estimates of BG/NBD and
    Gamma-Gamma on the calibration summary. Columns: _clv__models.yml. -#}
with

parameters as (
    select * from {{ ref('ml_clv_parameters') }}
),

final as (
    select
        -- ids
        cast(model as {{ dbt.type_string() }}) as model,  -- noqa: RF04
        cast(parameter as {{ dbt.type_string() }}) as parameter,

        -- strings
        cast(note as {{ dbt.type_string() }}) as note,

        -- numerics
        cast(estimate as {{ type_double() }}) as estimate,
        cast(standard_error as {{ type_double() }}) as standard_error,
        cast(log_likelihood as {{ type_double() }}) as log_likelihood,
        cast(n_customers as {{ dbt.type_bigint() }}) as n_customers,
        cast(n_customers_eligible as {{ dbt.type_bigint() }}) as n_customers_eligible,

        -- booleans
        cast(is_converged as boolean) as is_converged

    from parameters
)

select * from final
