{#- segment_scores for the customers this run recomputed (int_customers_touched): after
    `run --append`, or in the scratch build of `customer-chunks score`, the customers
    whose inputs changed; on a full run, every customer. A filter of segment_scores,
    not a second scoring: on a full run at 10M customers scoring everyone twice cost
    178 s more (bench/results/2026-12-03-10m-first-complete.md). -#}
with

scores as (
    select * from {{ ref('segment_scores') }}
),

touched as (
    select * from {{ ref('int_customers_touched') }}
),

touched_scores as (
    select scores.*
    from scores
    where scores.customer_id in (select touched.customer_id from touched)
)

select {{ contract_columns() }}
from touched_scores
