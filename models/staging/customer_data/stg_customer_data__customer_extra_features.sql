{#- The extra numeric columns of a staged customer_features input, one row per customer
    and extra column (long, so any number of columns fits one contract): the source
    file's extra_columns. A null value is kept (a missing value, imputed later). Empty
    when there are no extra columns or no customer_features input. -#}
{%- set extras = customer_chunks.customer_feature_extra_columns(
    source('customer_data', 'customer_features')
) -%}
with

checked as (
    select * from {{ ref('base_customer_data__customer_features_checked') }}
    where quarantine_reason is null
),

unpivoted as (
    {%- for feature in extras %}
        select
            customer_id,
            cast('{{ feature }}' as {{ dbt.type_string() }}) as feature_name,
            cast({{ adapter.quote(feature) }} as {{ type_double() }}) as feature_value
        from checked
        union all
    {%- endfor %}
    select
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_string() }}) as feature_name,
        cast(null as {{ type_double() }}) as feature_value
    from checked
    where 1 = 0
)

select * from unpivoted
