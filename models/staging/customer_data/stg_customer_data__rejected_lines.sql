with

source as (
    select * from {{ source('customer_data', 'rejected_lines') }}
),

renamed as (
    select
        -- ids
        table_name,
        line_number,

        -- strings
        line,
        error

    from source
)

select * from renamed
