{#- The extra numeric columns of a customer_features input, one row per customer and
    column, for the customers in dim_customers. Empty for order-line input. -#}
with

extra_features as (
    select * from {{ ref('stg_customer_data__customer_extra_features') }}
),

customers as (
    select customer_id from {{ ref('dim_customers') }}
),

final as (
    select
        extra_features.customer_id,
        extra_features.feature_name,
        extra_features.feature_value
    from extra_features
    inner join customers
        on extra_features.customer_id = customers.customer_id
)

select * from final
