{#- Read through history_table: empty, with the right columns, when not carried forward. -#}
with

source as (
    {{ history_table('current_run') }}
)

select * from source
