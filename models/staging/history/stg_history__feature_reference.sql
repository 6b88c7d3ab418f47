{#- Read through history_table: empty, with the right columns, when not carried forward. -#}
with

source as (
    {{ history_table('feature_reference') }}
)

select * from source
