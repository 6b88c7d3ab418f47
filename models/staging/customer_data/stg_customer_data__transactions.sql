with

checked as (
    select * from {{ ref('base_customer_data__transactions_checked') }}
),

staged as (
    select
        -- ids
        source_row_id as transaction_line_id,
        order_id,
        customer_id,
        product_id,

        -- strings
        category,

        -- numerics
        quantity,
        unit_price,
        line_amount,

        -- booleans
        case
            when quantity is not null and unit_price is not null
                then quantity > 0 and unit_price > 0
            else line_amount > 0
        end as is_purchase,
        case
            when quantity is not null then quantity < 0
            else line_amount < 0
        end as is_return,

        -- timestamps
        ordered_at

    from checked
    where quarantine_reason is null
)

select * from staged
