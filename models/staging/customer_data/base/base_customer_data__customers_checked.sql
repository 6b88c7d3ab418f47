{#- Every raw customer row, typed, with the reason it cannot be staged (null when it
    can). One row per customer is staged: an exact repeat is `duplicate`, a second row
    for the same customer with other values is `duplicate_customer_id` (the first row
    in input order is kept). The customer id makes any repeat provable, so `duplicate`
    applies under `auto` and `true`; under `false` an exact repeat is not told apart
    and is quarantined as duplicate_customer_id (one row per customer is staged). -#}
{%- set raw = source('customer_data', 'customers') -%}
{%- set text_columns = customer_chunks.text_columns(raw) -%}
with

source as (
    select * from {{ raw }}
),

repeats as (
    select * from {{ ref('base_customer_data__customers_repeats') }}
),

renamed as (
    select
        -- ids
        source._row_id as source_row_id,
        nullif(trim(cast(source.customer_id as {{ dbt.type_string() }})), '') as customer_id,

        -- strings
        nullif(trim(cast(source.gender as {{ dbt.type_string() }})), '') as gender,
        nullif(trim(cast(source.country as {{ dbt.type_string() }})), '') as country,

        -- numerics
        {{ dbt.safe_cast("source.birth_year", type_double()) }} as birth_year,

        -- timestamps
        {{ dbt.safe_cast("source.signed_up_at", dbt.type_timestamp()) }} as signed_up_at,

        -- booleans
        {{ customer_chunks.is_blank('source.signed_up_at', text_columns) }} as is_signed_up_at_blank,
        {{ customer_chunks.is_blank('source.birth_year', text_columns) }} as is_birth_year_blank,
        repeats.source_row_id is not null as is_repeat,

        -- values as read, for source_values
        source.customer_id as raw_customer_id,
        source.signed_up_at as raw_signed_up_at,
        source.birth_year as raw_birth_year,
        source.gender as raw_gender,
        source.country as raw_country

    from source
    left join repeats
        on source._row_id = repeats.source_row_id
),

checked as (
    select
        *,
        case
            when customer_id is null then 'missing_customer_id'
            when not is_signed_up_at_blank and signed_up_at is null then 'unparseable_timestamp'
            when signed_up_at > {{ dbt.current_timestamp() }} then 'future_timestamp'
            when {{ customer_chunks.is_implausible_timestamp('signed_up_at') }} then 'implausible_timestamp'
            when not is_birth_year_blank
                and (birth_year is null or {{ customer_chunks.is_not_finite('birth_year') }})
                then 'unparseable_birth_year'
            when birth_year < 1900 or birth_year > extract(year from {{ dbt.current_timestamp() }})
                then 'implausible_birth_year'
        end as rule_reason
    from renamed
),

{{ customer_chunks.one_row_per_customer('checked') }},

final as (
    select
        source_row_id,
        customer_id,
        gender,
        country,
        -- only a staged (plausible) birth year is cast: NaN or 1e20 cannot be an int
        case
            when quarantine_reason is null then cast(birth_year as {{ dbt.type_int() }})
        end as birth_year,
        signed_up_at,
        is_repeat,
        quarantine_reason,
        case
            when quarantine_reason is not null
                then {{ dbt.concat([
            customer_chunks.as_read('raw_customer_id'), "' | '",
            customer_chunks.as_read('raw_signed_up_at'), "' | '",
            customer_chunks.as_read('raw_birth_year'), "' | '",
            customer_chunks.as_read('raw_gender'), "' | '",
            customer_chunks.as_read('raw_country')
        ]) }}
        end as source_values
    from reasoned
)

select * from final
