{{ config(materialized='incremental') }}
{#- Every raw transaction row, typed, with the reason it cannot be staged (null when
    it can). Rules are applied in the order written; a row gets the first that fits.
    An exact repeat is quarantined as `duplicate` only when the duplicate rule says so
    (see the duplicate_rule macro): under `auto`, when the line has an order id. -#}
{%- set raw = source('customer_data', 'transactions') -%}
{%- set duplicate_rule = customer_chunks.duplicate_rule() -%}
{%- set text_columns = customer_chunks.text_columns(raw) -%}
with

source as (
    select * from {{ raw }}
    {%- if is_incremental() %}
        where _row_id > {{ customer_chunks.append_watermark('transactions') }}
    {%- endif %}
),

repeats as (
    select * from {{ ref('base_customer_data__transactions_repeats') }}
),

renamed as (
    select
        -- ids
        source._row_id as source_row_id,
        nullif(trim(cast(source.order_id as {{ dbt.type_string() }})), '') as source_order_id,
        nullif(trim(cast(source.customer_id as {{ dbt.type_string() }})), '') as customer_id,
        nullif(trim(cast(source.product_id as {{ dbt.type_string() }})), '') as product_id,

        -- strings
        nullif(trim(cast(source.category as {{ dbt.type_string() }})), '') as category,

        -- numerics
        {{ dbt.safe_cast("source.quantity", type_double()) }} as quantity,
        {{ dbt.safe_cast("source.unit_price", type_double()) }} as unit_price,
        {{ dbt.safe_cast("source.amount", type_double()) }} as amount,

        -- timestamps
        {{ dbt.safe_cast("source.ordered_at", dbt.type_timestamp()) }} as ordered_at,

        -- booleans
        {{ customer_chunks.is_blank('source.ordered_at', text_columns) }} as is_ordered_at_blank,
        {{ customer_chunks.is_blank('source.quantity', text_columns) }} as is_quantity_blank,
        {{ customer_chunks.is_blank('source.unit_price', text_columns) }} as is_unit_price_blank,
        {{ customer_chunks.is_blank('source.amount', text_columns) }} as is_amount_blank,
        repeats.source_row_id is not null as is_repeat,

        -- values as read, for source_values
        source.order_id as raw_order_id,
        source.customer_id as raw_customer_id,
        source.ordered_at as raw_ordered_at,
        source.product_id as raw_product_id,
        source.category as raw_category,
        source.quantity as raw_quantity,
        source.unit_price as raw_unit_price,
        source.amount as raw_amount

    from source
    left join repeats
        on source._row_id = repeats.source_row_id
),

checked as (
    select
        *,
        case
            when customer_id is null then 'missing_customer_id'
            when is_ordered_at_blank then 'missing_timestamp'
            when ordered_at is null then 'unparseable_timestamp'
            when ordered_at > {{ dbt.current_timestamp() }} then 'future_timestamp'
            when {{ customer_chunks.is_implausible_timestamp('ordered_at') }} then 'implausible_timestamp'
            when not is_quantity_blank
                and (quantity is null or {{ customer_chunks.is_not_finite('quantity') }})
                then 'unparseable_quantity'
            when not is_unit_price_blank
                and (unit_price is null or {{ customer_chunks.is_not_finite('unit_price') }})
                then 'unparseable_price'
            when not is_amount_blank
                and (amount is null or {{ customer_chunks.is_not_finite('amount') }})
                then 'unparseable_amount'
            when coalesce(amount, quantity * unit_price) is null then 'missing_amount'
            when {{ customer_chunks.is_implausible_amount(
                ['quantity', 'unit_price', 'coalesce(amount, quantity * unit_price)']
            ) }} then 'implausible_amount'
            when unit_price < 0 then 'negative_price'
            {%- if duplicate_rule == 'always' %}
                when is_repeat then 'duplicate'
            {%- elif duplicate_rule == 'auto' %}
                when is_repeat and source_order_id is not null then 'duplicate'
            {%- endif %}
        end as quarantine_reason
    from renamed
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
        is_repeat,
        quarantine_reason,
        case
            when quarantine_reason is not null
                then {{ dbt.concat([
            customer_chunks.as_read('raw_order_id'), "' | '",
            customer_chunks.as_read('raw_customer_id'), "' | '",
            customer_chunks.as_read('raw_ordered_at'), "' | '",
            customer_chunks.as_read('raw_product_id'), "' | '",
            customer_chunks.as_read('raw_category'), "' | '",
            customer_chunks.as_read('raw_quantity'), "' | '",
            customer_chunks.as_read('raw_unit_price'), "' | '",
            customer_chunks.as_read('raw_amount')
        ]) }}
        end as source_values
    from checked
)

select * from final
