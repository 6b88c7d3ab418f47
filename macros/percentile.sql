{#- The continuous percentile of `column` at fraction `fraction`, as an aggregate.
    Not among dbt's cross-database macros, so dispatched here. -#}
{% macro percentile(column, fraction) -%}
    {{ return(adapter.dispatch('percentile', 'customer_chunks')(column, fraction)) }}
{%- endmacro %}

{% macro default__percentile(column, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ column }})
{%- endmacro %}

{% macro spark__percentile(column, fraction) -%}
    percentile({{ column }}, {{ fraction }})
{%- endmacro %}
