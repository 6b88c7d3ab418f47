{#- Every raw customer row, typed, with the reason it cannot be staged (null when it
    can). One row per customer is staged: an exact repeat is `duplicate`, a second row
    for the same customer with other values is `duplicate_customer_id` (the first row
    in input order is kept). -#}
with

source as (
    select * from {{ source('customer_data', 'customers') }}
),

renamed as (
    select
        -- ids
        _row_id as source_row_id,
        nullif(trim(cast(customer_id as {{ dbt.type_string() }})), '') as customer_id,

        -- strings
        nullif(trim(cast(gender as {{ dbt.type_string() }})), '') as gender,
        nullif(trim(cast(country as {{ dbt.type_string() }})), '') as country,
        nullif(trim(cast(signed_up_at as {{ dbt.type_string() }})), '') as signed_up_at_text,
        nullif(trim(cast(birth_year as {{ dbt.type_string() }})), '') as birth_year_text,

        -- numerics
        {{ dbt.safe_cast("birth_year", type_double()) }} as birth_year,

        -- timestamps
        {{ dbt.safe_cast("signed_up_at", dbt.type_timestamp()) }} as signed_up_at

    from source
),

checked as (
    select
        *,
        case
            when customer_id is null then 'missing_customer_id'
            when signed_up_at_text is not null and signed_up_at is null then 'unparseable_timestamp'
            when signed_up_at > {{ dbt.current_timestamp() }} then 'future_timestamp'
            when birth_year_text is not null and birth_year is null then 'unparseable_birth_year'
            when birth_year < 1900 or birth_year > extract(year from {{ dbt.current_timestamp() }})
                then 'implausible_birth_year'
        end as rule_reason
    from renamed
),

numbered as (
    select
        *,
        row_number() over (
            partition by customer_id, gender, country, signed_up_at_text, birth_year_text
            order by source_row_id
        ) as copy_number,
        row_number() over (
            partition by customer_id, rule_reason is null
            order by source_row_id
        ) as customer_row_number
    from checked
),

reasoned as (
    select
        *,
        case
            when rule_reason is not null then rule_reason
            when copy_number > 1 then 'duplicate'
            when customer_row_number > 1 then 'duplicate_customer_id'
        end as quarantine_reason
    from numbered
),

final as (
    select
        source_row_id,
        customer_id,
        gender,
        country,
        cast(birth_year as {{ dbt.type_int() }}) as birth_year,
        signed_up_at,
        quarantine_reason,
        case
            when quarantine_reason is not null
                then {{ dbt.concat([
            "coalesce(customer_id, '')", "' | '",
            "coalesce(signed_up_at_text, '')", "' | '",
            "coalesce(birth_year_text, '')", "' | '",
            "coalesce(gender, '')", "' | '",
            "coalesce(country, '')"
        ]) }}
        end as source_values
    from reasoned
)

select * from final
