{#- dim_customers on the spark target (in its own folder: not among the DuckDB marts the
    export publishes): features, RFM and the scores of the Spark ML job
    (K-Means segment, PCA, high value). No Ward/DBSCAN labels, segment names or CLV: those
    come from the dbt Python models, which run on DuckDB (README, Other engines). Column
    definitions: _spark_ml__models.yml. -#}
{{ config(enabled=target.type == 'spark', tags=['spark_ml']) }}

with

features as (
    select * from {{ ref('int_customer_features_by_snapshot') }}
    where snapshot_name = 'current'
),

rfm as (
    select * from {{ ref('int_customers_rfm_scored') }}
),

scores as (
    select * from {{ ref('stg_spark_ml__customer_scores') }}
),

joined as (
    select
        features.*,
        features.snapshot_date as as_of_date,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        rfm.rfm_cell,
        rfm.rfm_segment,
        scores.kmeans_segment_id,
        scores.pca_1,
        scores.pca_2,
        scores.pca_3,
        scores.high_value_probability,
        scores.is_predicted_high_value
    from features
    left join rfm
        on features.customer_id = rfm.customer_id
    left join scores
        on features.customer_id = scores.customer_id
),

final as (
    select
        {{ contract_columns() }}
    from joined
)

select * from final
