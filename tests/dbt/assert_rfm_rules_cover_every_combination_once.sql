{#- Every (R, F, M) combination 1-5 maps to exactly one segment, and that segment is
    the first rule in rfm_segments (by priority) whose ranges all fit. Returns the
    combinations that are missing, repeated, or named differently. -#}
with

scores as (
    select 1 as score
    union all
    select 2
    union all
    select 3
    union all
    select 4
    union all
    select 5
),

combinations as (
    select
        r.score as r_score,
        f.score as f_score,
        m.score as m_score
    from scores as r
    cross join scores as f
    cross join scores as m
),

rules as (
    select
        segment_name,
        priority,
        cast({{ dbt.split_part('r_range', "'-'", 1) }} as integer) as r_low,
        cast({{ dbt.split_part('r_range', "'-'", 2) }} as integer) as r_high,
        cast({{ dbt.split_part('f_range', "'-'", 1) }} as integer) as f_low,
        cast({{ dbt.split_part('f_range', "'-'", 2) }} as integer) as f_high,
        cast({{ dbt.split_part('m_range', "'-'", 1) }} as integer) as m_low,
        cast({{ dbt.split_part('m_range', "'-'", 2) }} as integer) as m_high
    from {{ ref('rfm_segments') }}
),

first_matching_rule as (
    select
        combinations.r_score,
        combinations.f_score,
        combinations.m_score,
        min(rules.priority) as priority
    from combinations
    left join rules
        on combinations.r_score between rules.r_low and rules.r_high
            and combinations.f_score between rules.f_low and rules.f_high
            and combinations.m_score between rules.m_low and rules.m_high
    group by 1, 2, 3
),

expected as (
    select
        first_matching_rule.*,
        rules.segment_name as expected_segment
    from first_matching_rule
    left join rules on first_matching_rule.priority = rules.priority
),

seeded as (
    select
        r_score,
        f_score,
        m_score,
        count(*) as rows_in_seed,
        min(segment_name) as segment_name
    from {{ ref('rfm_segment_rules') }}
    group by 1, 2, 3
)

select
    expected.r_score,
    expected.f_score,
    expected.m_score,
    expected.expected_segment,
    seeded.segment_name,
    seeded.rows_in_seed
from expected
left join seeded
    on expected.r_score = seeded.r_score
        and expected.f_score = seeded.f_score
        and expected.m_score = seeded.m_score
where seeded.rows_in_seed is null
    or seeded.rows_in_seed != 1
    or expected.expected_segment is null
    or seeded.segment_name != expected.expected_segment
