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
    {#- The shape alone lets 2024-02-30 or 25:00 through, and their cast raises: the
        calendar is checked too, in nested CASEs (Postgres does not promise the order
        in which AND evaluates its operands; CASE it does), and every cast of a part
        is of digits the pattern has already matched (or '0'), so none can raise. -#}
    {%- set text = 'cast(' ~ field ~ ' as text)' -%}
    {%- set y = 'cast(substr(' ~ text ~ ', 1, 4) as integer)' -%}
    {%- set m = 'cast(substr(' ~ text ~ ', 6, 2) as integer)' -%}
    {%- set d = 'cast(substr(' ~ text ~ ', 9, 2) as integer)' -%}
    case when {{ text }} ~ '^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$' then
        case when {{ y }} >= 1 and {{ m }} between 1 and 12 and {{ d }} >= 1 then
            case when {{ d }} <= case
                    when {{ m }} = 2 then
                        case when {{ y }} % 4 = 0 and ({{ y }} % 100 <> 0 or {{ y }} % 400 = 0)
                            then 29 else 28 end
                    when {{ m }} in (4, 6, 9, 11) then 30
                    else 31
                end
                and (
                    length({{ text }}) = 10
                    or (
                        cast(coalesce(nullif(substr({{ text }}, 12, 2), ''), '0') as integer) < 24
                        and cast(coalesce(nullif(substr({{ text }}, 15, 2), ''), '0') as integer) < 60
                        and (length({{ text }}) = 16 or cast(coalesce(nullif(substr({{ text }}, 18, 2), ''), '0') as integer) < 60)
                    )
                )
                then cast({{ field }} as {{ type }})
            end
        end
    end
    {%- elif 'bool' in t -%}
    case when lower(trim(cast({{ field }} as text)))
        in ('true', 'false', 't', 'f', 'yes', 'no', 'y', 'n', 'on', 'off', '1', '0')
        then cast({{ field }} as {{ type }}) end
    {%- elif t.split('(')[0].strip() in ['int', 'integer', 'bigint', 'smallint', 'numeric', 'decimal', 'real', 'float', 'double precision'] -%}
    case when cast({{ field }} as text) ~ '^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$'
        then cast({{ field }} as {{ type }}) end
    {%- else -%}
    {#- text and any other type: a plain cast, as dbt's own default -#}
    cast({{ field }} as {{ type }})
    {%- endif -%}
{%- endmacro %}
