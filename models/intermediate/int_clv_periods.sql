{#- One row: the CLV calibration and hold-out periods and the time unit. The calibration
    period is every day up to and including calibration_end_date (var
    clv_calibration_end, or as_of minus one day minus clv_holdout_weeks); the hold-out is
    every day after it and before as_of. Times are counted in days / time_unit_days. -#}
with

parameters as (
    select * from {{ ref('int_run_parameters') }}
),

dates as (
    select
        as_of_date,
        {%- if var('clv_calibration_end') %}
            cast('{{ var("clv_calibration_end") }}' as date) as calibration_end_date
        {%- else %}
            cast(
                {{ dbt.dateadd('day', -(1 + 7 * var('clv_holdout_weeks')), 'as_of_date') }}
                as date
            ) as calibration_end_date
        {%- endif %}
    from parameters
),

final as (
    select
        calibration_end_date,
        cast({{ dbt.dateadd('day', -1, 'as_of_date') }} as date) as current_end_date,
        as_of_date,
        {{ dbt.datediff('calibration_end_date', 'as_of_date', 'day') }} - 1 as holdout_days,
        cast({{ var('clv_time_unit_days') }} as {{ type_double() }}) as time_unit_days,
        cast({{ var('clv_horizon_weeks') }} as {{ type_double() }}) as horizon_weeks
    from dates
)

select * from final
