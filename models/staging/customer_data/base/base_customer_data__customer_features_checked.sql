{#- Every raw customer_features row, typed, with the reason it cannot be staged (null
    when it can). Every feature, the contract's and the extra columns alike, is a
    number: a value that is not blank and not a finite number makes the row
    `unparseable_feature` (a blank value is a missing feature, imputed later). One row
    per customer is staged: an exact repeat is `duplicate` (the customer id proves it,
    as for customers), a second row for the same customer with other values is
    `duplicate_customer_id` (the first in input order is kept). -#}
{%- set raw = source('customer_data', 'customer_features') -%}
{%- set text_columns = customer_chunks.text_columns(raw) -%}
{%- set features = customer_chunks.customer_feature_columns()
    + customer_chunks.customer_feature_extra_columns(raw) -%}
{%- set as_read = [customer_chunks.as_read('source.customer_id')] -%}
{%- for feature in features -%}
    {%- do as_read.extend(["' | '", customer_chunks.as_read('source.' ~ adapter.quote(feature))]) -%}
{%- endfor -%}
with

source as (
    select * from {{ raw }}
),

repeats as (
    select * from {{ ref('base_customer_data__customer_features_repeats') }}
),

renamed as (
    select
        -- ids
        source._row_id as source_row_id,
        nullif(trim(cast(source.customer_id as {{ dbt.type_string() }})), '') as customer_id,

        -- numerics
        {%- for feature in features %}
            {{ dbt.safe_cast("source." ~ adapter.quote(feature), type_double()) }}
                as {{ adapter.quote(feature) }},
        {%- endfor %}

        -- booleans
        (
            false
            {%- for feature in features %}
                or (
                    not {{ customer_chunks.is_blank('source.' ~ adapter.quote(feature), text_columns) }}
                    and (
                        {{ dbt.safe_cast("source." ~ adapter.quote(feature), type_double()) }} is null
                        or {{ customer_chunks.is_not_finite(
                            dbt.safe_cast("source." ~ adapter.quote(feature), type_double())
                        ) }}
                    )
                )
            {%- endfor %}
        ) as has_unparseable_feature,
        repeats.source_row_id is not null as is_repeat,

        -- values as read, for source_values
        {{ dbt.concat(as_read) }} as source_values_as_read

    from source
    left join repeats
        on source._row_id = repeats.source_row_id
),

checked as (
    select
        *,
        case
            when customer_id is null then 'missing_customer_id'
            when has_unparseable_feature then 'unparseable_feature'
        end as rule_reason
    from renamed
),

{{ customer_chunks.one_row_per_customer('checked') }},

final as (
    select
        source_row_id,
        customer_id,
        {%- for feature in features %}
            {{ adapter.quote(feature) }},
        {%- endfor %}
        is_repeat,
        quarantine_reason,
        case when quarantine_reason is not null then source_values_as_read end as source_values
    from reasoned
)

select * from final
