{#- Quintile cut points (20/40/60/80th percentiles, continuous) of recency_days,
    frequency and monetary over the customers in the current snapshot. A score is
    1 + the number of cut points strictly below the value, so equal values always get
    equal scores; recency is reversed so the most recent customers get R = 5. -#}
{%- set metrics = ['recency_days', 'frequency', 'monetary'] -%}
{%- set fractions = [0.2, 0.4, 0.6, 0.8] -%}
with

features as (
    select * from {{ ref('int_customer_features_by_snapshot') }}
    where snapshot_name = 'current'
),

cut_points as (
    {%- for metric in metrics %}
    {%- for fraction in fractions %}
    select
        '{{ metric }}' as metric,
        {{ loop.index }} as cut_number,
        cast({{ fraction }} as {{ type_double() }}) as quantile,
        cast({{ percentile(metric, fraction) }} as {{ type_double() }}) as cut_value
    from features
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from cut_points
