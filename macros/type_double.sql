{#- An 8-byte float on every adapter. dbt.type_float() is a 4-byte `float` on DuckDB,
    which rounds money (7 significant digits); amounts need a double. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'customer_chunks')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro duckdb__type_double() -%}
    double
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}
