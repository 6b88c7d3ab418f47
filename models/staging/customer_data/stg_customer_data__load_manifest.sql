with

source as (
    select * from {{ source('customer_data', 'load_manifest') }}
),

renamed as (
    select
        -- ids
        table_name,

        -- strings
        source as source_location,
        file_format,
        mapped_columns,

        -- numerics
        rows_read,
        lines_rejected,

        -- booleans
        is_provided,

        -- timestamps
        loaded_at

    from source
)

select * from renamed
