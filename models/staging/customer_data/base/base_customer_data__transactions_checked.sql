{#- Every raw transaction row, typed, with the reason it cannot be staged (null when
    it can). Rules are applied in the order written; a row gets the first that fits. -#}
with

source as (
    select * from {{ source('customer_data', 'transactions') }}
),

renamed as (
    select
        -- ids
        _row_id as source_row_id,
        nullif(trim(cast(order_id as {{ dbt.type_string() }})), '') as source_order_id,
        nullif(trim(cast(customer_id as {{ dbt.type_string() }})), '') as customer_id,
        nullif(trim(cast(product_id as {{ dbt.type_string() }})), '') as product_id,

        -- strings
        nullif(trim(cast(category as {{ dbt.type_string() }})), '') as category,
        nullif(trim(cast(ordered_at as {{ dbt.type_string() }})), '') as ordered_at_text,
        nullif(trim(cast(quantity as {{ dbt.type_string() }})), '') as quantity_text,
        nullif(trim(cast(unit_price as {{ dbt.type_string() }})), '') as unit_price_text,
        nullif(trim(cast(amount as {{ dbt.type_string() }})), '') as amount_text,

        -- numerics
        {{ dbt.safe_cast("quantity", type_double()) }} as quantity,
        {{ dbt.safe_cast("unit_price", type_double()) }} as unit_price,
        {{ dbt.safe_cast("amount", type_double()) }} as amount,

        -- timestamps
        {{ dbt.safe_cast("ordered_at", dbt.type_timestamp()) }} as ordered_at

    from source
),

checked as (
    select
        *,
        case
            when customer_id is null then 'missing_customer_id'
            when ordered_at_text is null then 'missing_timestamp'
            when ordered_at is null then 'unparseable_timestamp'
            when ordered_at > {{ dbt.current_timestamp() }} then 'future_timestamp'
            when quantity_text is not null and quantity is null then 'unparseable_quantity'
            when unit_price_text is not null and unit_price is null then 'unparseable_price'
            when amount_text is not null and amount is null then 'unparseable_amount'
            when coalesce(amount, quantity * unit_price) is null then 'missing_amount'
            when unit_price < 0 then 'negative_price'
        end as rule_reason
    from renamed
),

numbered as (
    select
        *,
        row_number() over (
            partition by
                source_order_id, customer_id, ordered_at_text, product_id, category,
                quantity_text, unit_price_text, amount_text
            order by source_row_id
        ) as copy_number
    from checked
),

reasoned as (
    select
        *,
        case
            when rule_reason is not null then rule_reason
            {%- if var('quarantine_duplicates', true) %}
                when copy_number > 1 then 'duplicate'
            {%- endif %}
        end as quarantine_reason
    from numbered
),

final as (
    select
        source_row_id,
        coalesce(source_order_id, 'line-' || cast(source_row_id as {{ dbt.type_string() }})) as order_id,
        customer_id,
        product_id,
        category,
        quantity,
        unit_price,
        coalesce(amount, quantity * unit_price) as line_amount,
        ordered_at,
        quarantine_reason,
        case
            when quarantine_reason is not null
                then {{ dbt.concat([
            "coalesce(source_order_id, '')", "' | '",
            "coalesce(customer_id, '')", "' | '",
            "coalesce(ordered_at_text, '')", "' | '",
            "coalesce(product_id, '')", "' | '",
            "coalesce(category, '')", "' | '",
            "coalesce(quantity_text, '')", "' | '",
            "coalesce(unit_price_text, '')", "' | '",
            "coalesce(amount_text, '')"
        ]) }}
        end as source_values
    from reasoned
)

select * from final
