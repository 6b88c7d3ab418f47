{#- dbt's cross-database `safe_cast` is a plain cast on DuckDB and Postgres, which
    fails the whole model on one bad value. Staging needs "null when it does not
    parse" so the row can be quarantined with a reason instead. -#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{% macro spark__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{% macro postgres__safe_cast(field, type) -%}
    {#- Postgres has no try_cast: accept only text that looks like the type. -#}
    {%- set t = type | lower -%}
    {%- if 'timestamp' in t or 'date' in t -%}
    case when cast({{ field }} as text) ~ '^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$'
        then cast({{ field }} as {{ type }}) end
    {%- elif 'char' in t or 'text' in t or 'string' in t -%}
    cast({{ field }} as {{ type }})
    {%- else -%}
    case when cast({{ field }} as text) ~ '^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$'
        then cast({{ field }} as {{ type }}) end
    {%- endif -%}
{%- endmacro %}
