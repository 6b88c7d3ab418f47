{#- The scores of the Spark ML job (customer_chunks.spark_score), typed. On the spark
    target only: elsewhere the dbt Python models produce these columns. -#}
{{ config(enabled=target.type == 'spark', tags=['spark_ml']) }}

with

source as (
    select * from {{ source('spark_ml', 'spark_customer_scores') }}
),

renamed as (
    select
        -- ids
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,

        -- numerics
        cast(kmeans_segment_id as integer) as kmeans_segment_id,
        cast(pca_1 as {{ type_double() }}) as pca_1,
        cast(pca_2 as {{ type_double() }}) as pca_2,
        cast(pca_3 as {{ type_double() }}) as pca_3,
        cast(high_value_probability as {{ type_double() }}) as high_value_probability,

        -- booleans
        cast(is_predicted_high_value as boolean) as is_predicted_high_value
    from source
)

select * from renamed
