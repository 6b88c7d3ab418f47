{{ config(materialized='incremental') }}
{#- Raw transaction lines that repeat an earlier line exactly (see the repeated_rows macro). -#}
{{ customer_chunks.repeated_rows(
    source('customer_data', 'transactions'),
    ['order_id', 'customer_id', 'ordered_at', 'product_id', 'category',
     'quantity', 'unit_price', 'amount'],
    'transactions'
) }}
