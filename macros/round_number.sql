{#- round(value, digits) half away from zero, as a double, on every adapter. Postgres
    has round(numeric, int) only, so the double is cast to numeric first (15 significant
    digits). A value that lies within a double's error of a .x5 boundary can round the
    other way there than on DuckDB or Spark, which round the double itself:
    tests/test_engines_equality.py measures and allows that one step. -#}
{% macro round_number(value, digits) -%}
    {{ return(adapter.dispatch('round_number', 'customer_chunks')(value, digits)) }}
{%- endmacro %}

{% macro default__round_number(value, digits) -%}
    round({{ value }}, {{ digits }})
{%- endmacro %}

{% macro postgres__round_number(value, digits) -%}
    cast(round(cast({{ value }} as numeric), {{ digits }}) as {{ type_double() }})
{%- endmacro %}
