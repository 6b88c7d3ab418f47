with

checked as (
    select * from {{ ref('base_customer_data__customers_checked') }}
),

staged as (
    select
        -- ids
        customer_id,

        -- strings
        gender,
        country,

        -- numerics
        birth_year,

        -- timestamps
        signed_up_at

    from checked
    where quarantine_reason is null
)

select * from staged
