{#- Every row of every contract table as checked by its base model, with the table's
    name: the one union over the tables that the quarantine and duplicate marts read.
    A view, so it stores nothing and each reader scans only what it filters. -#}
{{ config(materialized='view') }}

with

unioned as (
    {%- for table in input_tables() %}
        select
            '{{ table }}' as table_name,
            source_row_id,
            is_repeat,
            quarantine_reason,
            source_values
        from {{ ref('base_customer_data__' ~ table ~ '_checked') }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
)

select * from unioned
