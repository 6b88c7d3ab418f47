{#- Staged customer-level features: one row per customer of a customer_features input
    (precomputed metrics instead of order lines), the contract's features as given. The
    extra columns are in stg_customer_data__customer_extra_features. -#}
with

checked as (
    select * from {{ ref('base_customer_data__customer_features_checked') }}
),

staged as (
    select
        -- ids
        customer_id,

        -- numerics
        {%- for feature in customer_chunks.customer_feature_columns()[:-1] %}
            {{ feature }},
        {%- endfor %}
        {{ customer_chunks.customer_feature_columns() | last }}

    from checked
    where quarantine_reason is null
)

select * from staged
