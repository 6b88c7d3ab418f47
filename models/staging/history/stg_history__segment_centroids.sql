{#- Read through history_table: empty, with the right columns, when not carried forward. -#}
with

source as (
    {{ history_table('segment_centroids') }}
)

select * from source
