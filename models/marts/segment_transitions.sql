{#- Moves between the last published run and this one, appended to the earlier pairs
    (history). The previous run's membership is the open rows of its
    customer_segment_history. A customer new in this run has a null from_segment_id; one
    absent from it a null to_segment_id. Staying is a row too (from = to).
    Columns, types and docs: the contract in _lifecycle__models.yml. -#}
with

previous_transitions as (
    select * from {{ ref('stg_history__segment_transitions') }}
),

previous_history as (
    select * from {{ ref('stg_history__customer_segment_history') }}
),

this_run as (
    select * from {{ ref('int_lifecycle_current_run') }}
),

assignments as (
    select * from {{ ref('segment_assignments') }}
),

features as (
    select * from {{ ref('int_customer_features_by_snapshot') }}
    where snapshot_name = 'current'
),

before as (
    select
        customer_id,
        segment_id
    from previous_history
    where valid_to_run_id is null
),

pairs as (
    select
        before.segment_id as from_segment_id,
        assignments.stable_segment_id as to_segment_id,
        coalesce(assignments.customer_id, before.customer_id) as customer_id
    from before
    full outer join assignments
        on before.customer_id = assignments.customer_id
),

this_pair as (
    select
        this_run.previous_run_id as from_run_id,
        this_run.run_id as to_run_id,
        pairs.from_segment_id,
        pairs.to_segment_id,
        count(*) as customers,
        sum(coalesce(features.monetary, 0)) as revenue
    from pairs
    cross join this_run
    left join features
        on pairs.customer_id = features.customer_id
    where this_run.previous_run_id is not null
    group by 1, 2, 3, 4
),

unioned as (
    select * from previous_transitions
    union all
    select * from this_pair
)

select {{ contract_columns() }}
from unioned
