{#- segment_scores for the customers this run recomputed (int_customers_touched): after
    `run --append`, or in the scratch build of `customer-chunks score`, the customers
    whose inputs changed; on a full run, every customer. -#}
with

touched as (
    select * from {{ ref('int_customers_touched') }}
),

features as (
    select * from {{ ref('int_customer_features_by_snapshot') }}
    where
        snapshot_name = 'current'
        and customer_id in (select touched.customer_id from touched)
),

{{ customer_chunks.nearest_centroid('features') }}
