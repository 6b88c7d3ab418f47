{#- Read through history_table: empty, with the right columns, when not carried forward. -#}
with

source as (
    {{ history_table('customer_segment_history') }}
)

select * from source
