{#- Quintile cut points (20/40/60/80th continuous percentiles) of recency_days,
    frequency and monetary over the customers in the current snapshot. -#}
with

features as (
    select * from {{ ref('int_customer_features_by_snapshot') }}
    where snapshot_name = 'current'
),

cut_points as (
    {%- for metric in ['recency_days', 'frequency', 'monetary'] %}
        {%- set outer_loop = loop %}
        {%- for fraction in [0.2, 0.4, 0.6, 0.8] %}
            select
                '{{ metric }}' as metric,
                {{ loop.index }} as cut_number,
                cast({{ fraction }} as {{ type_double() }}) as quantile,
                cast({{ percentile(metric, fraction) }} as {{ type_double() }}) as cut_value
            from features
            {%- if not (outer_loop.last and loop.last) %}
                union all
            {%- endif %}
        {%- endfor %}
    {%- endfor %}
)

select * from cut_points
