{#- Aggregate: the `value` of the row with the smallest `order_by` in the group (ties:
    any of them). Not among dbt's cross-database macros, so dispatched here. -#}
{% macro min_by(value, order_by) -%}
    {{ return(adapter.dispatch('min_by', 'customer_chunks')(value, order_by)) }}
{%- endmacro %}

{% macro default__min_by(value, order_by) -%}
    (array_agg({{ value }} order by {{ order_by }}))[1]
{%- endmacro %}

{% macro duckdb__min_by(value, order_by) -%}
    min_by({{ value }}, {{ order_by }})
{%- endmacro %}

{% macro spark__min_by(value, order_by) -%}
    min_by({{ value }}, {{ order_by }})
{%- endmacro %}
