{#- R, F and M scores (1-5) for each customer in the current snapshot, from the cut
    points in int_rfm_cut_points, and the named segment from the rfm_segment_rules seed. -#}
with

features as (
    select * from {{ ref('int_customer_features_by_snapshot') }}
    where snapshot_name = 'current'
),

cut_points as (
    select * from {{ ref('int_rfm_cut_points') }}
),

segment_rules as (
    select * from {{ ref('rfm_segment_rules') }}
),

cut_row as (
    {#- the twelve cut points side by side, so scoring is one pass over customers -#}
    select
        {%- for metric in ['recency_days', 'frequency', 'monetary'] %}
        {%- set metric_loop = loop %}
        {%- for n in range(1, 5) %}
        max(case when metric = '{{ metric }}' and cut_number = {{ n }} then cut_value end)
            as {{ metric }}_cut_{{ n }}{{ ',' if not (metric_loop.last and loop.last) }}
        {%- endfor %}
        {%- endfor %}
    from cut_points
),

scored as (
    select
        features.customer_id,
        {%- for metric, score in [('recency_days', 'r_score'), ('frequency', 'f_score'), ('monetary', 'm_score')] %}
        {{ '6 - (' if metric == 'recency_days' }}1
        {%- for n in range(1, 5) %}
            + case when features.{{ metric }} > cut_row.{{ metric }}_cut_{{ n }} then 1 else 0 end
        {%- endfor %}{{ ')' if metric == 'recency_days' }} as {{ score }}{{ ',' if not loop.last }}
        {%- endfor %}
    from features
    cross join cut_row
),

segmented as (
    select
        scored.customer_id,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        {{ dbt.concat([
            dbt.cast("scored.r_score", dbt.type_string()),
            dbt.cast("scored.f_score", dbt.type_string()),
            dbt.cast("scored.m_score", dbt.type_string())
        ]) }} as rfm_cell,
        segment_rules.segment_name as rfm_segment
    from scored
    left join segment_rules
        on scored.r_score = segment_rules.r_score
        and scored.f_score = segment_rules.f_score
        and scored.m_score = segment_rules.m_score
)

select * from segmented
