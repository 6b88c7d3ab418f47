{#- R, F and M scores (1-5) for each customer in the current snapshot, from the cut
    points in int_rfm_cut_points, and the named segment from the rfm_segment_rules seed.
    score = 1 + number of cut points strictly below the value (recency reversed).
    Customers without recency, frequency or monetary (possible only with a
    customer_features input) are not scored. -#}
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

cuts_by_metric as (
    select
        metric,
        max(case when cut_number = 1 then cut_value end) as cut_1,
        max(case when cut_number = 2 then cut_value end) as cut_2,
        max(case when cut_number = 3 then cut_value end) as cut_3,
        max(case when cut_number = 4 then cut_value end) as cut_4
    from cut_points
    group by 1
),

recency_cuts as (
    select * from cuts_by_metric
    where metric = 'recency_days'
),

frequency_cuts as (
    select * from cuts_by_metric
    where metric = 'frequency'
),

monetary_cuts as (
    select * from cuts_by_metric
    where metric = 'monetary'
),

scored as (
    select
        features.customer_id,
        6 - {{ score_against_cuts('features.recency_days', 'recency_cuts') }} as r_score,
        {{ score_against_cuts('features.frequency', 'frequency_cuts') }} as f_score,
        {{ score_against_cuts('features.monetary', 'monetary_cuts') }} as m_score
    from features
    cross join recency_cuts
    cross join frequency_cuts
    cross join monetary_cuts
    -- a customer_features input may not give all three: no score then (null in
    -- dim_customers), rather than the lowest score for a missing value
    where
        features.recency_days is not null
        and features.frequency is not null
        and features.monetary is not null
),

segmented as (
    select
        scored.customer_id,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        segment_rules.segment_name as rfm_segment,
        {{ dbt.concat([
            dbt.cast("scored.r_score", dbt.type_string()),
            dbt.cast("scored.f_score", dbt.type_string()),
            dbt.cast("scored.m_score", dbt.type_string())
        ]) }} as rfm_cell
    from scored
    left join segment_rules
        on
            scored.r_score = segment_rules.r_score
            and scored.f_score = segment_rules.f_score
            and scored.m_score = segment_rules.m_score
)

select * from segmented
