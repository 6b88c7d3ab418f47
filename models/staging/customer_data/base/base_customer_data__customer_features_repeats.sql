{#- Raw customer_features rows that repeat an earlier row exactly (see the
    repeated_rows macro), over every column the loader wrote, extras included. -#}
{%- set raw = source('customer_data', 'customer_features') -%}
{%- set columns = ['customer_id'] + customer_chunks.customer_feature_columns()
    + customer_chunks.customer_feature_extra_columns(raw) -%}
{%- set quoted = [] -%}
{%- for column in columns -%}
    {%- do quoted.append(adapter.quote(column)) -%}
{%- endfor -%}
{{ customer_chunks.repeated_rows(raw, quoted) }}
