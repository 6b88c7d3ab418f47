{#- Every input row that was not staged, with its table, position and reason. -#}
with

checked_rows as (
    select * from {{ ref('int_checked_rows_unioned') }}
),

rejected_lines as (
    select * from {{ ref('stg_customer_data__rejected_lines') }}
),

unioned as (
    select
        table_name,
        source_row_id,
        cast(null as {{ dbt.type_bigint() }}) as source_line_number,
        quarantine_reason,
        source_values
    from checked_rows
    where quarantine_reason is not null
    union all
    select
        table_name,
        cast(null as {{ dbt.type_bigint() }}) as source_row_id,
        line_number as source_line_number,
        'malformed_line' as quarantine_reason,
        {{ dbt.concat(["coalesce(line, '')", "' | '", "coalesce(error, '')"]) }} as source_values
    from rejected_lines
)

select * from unioned
