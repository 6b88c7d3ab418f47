{#- Scoring in SQL: every current customer assigned to the nearest stored centre, with
    the stored preprocessing and no Python (the nearest_centroid macro has the rule).
    Columns, types and docs: the contract in _lifecycle__models.yml. -#}
with

features as (
    select * from {{ ref('int_customer_features_by_snapshot') }}
    where snapshot_name = 'current'
),

{{ customer_chunks.nearest_centroid('features') }}
