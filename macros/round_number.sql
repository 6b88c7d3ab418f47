{#- round(value, digits) half away from zero, as a double, on every adapter. Postgres
    has round(numeric, int) only, so the double is cast to numeric first (15 significant
    digits); Spark also rounds the double's decimal form, DuckDB the binary double. A
    value within a double's error of a .x5 boundary can therefore round one step apart
    (DuckDB 48.7, Postgres and Spark 48.8): tests/test_engines_equality.py allows that
    one step and nothing else. -#}
{% macro round_number(value, digits) -%}
    {{ return(adapter.dispatch('round_number', 'customer_chunks')(value, digits)) }}
{%- endmacro %}

{% macro default__round_number(value, digits) -%}
    round({{ value }}, {{ digits }})
{%- endmacro %}

{% macro postgres__round_number(value, digits) -%}
    cast(round(cast({{ value }} as numeric), {{ digits }}) as {{ type_double() }})
{%- endmacro %}
