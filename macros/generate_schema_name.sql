{#- Schemas are named exactly as configured (raw, staging, intermediate, ml, marts)
    rather than prefixed with the target schema, so analysts and BI tools find
    `marts.dim_customers` on every target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
