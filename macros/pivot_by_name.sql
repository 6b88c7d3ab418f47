{% macro pivot_by_name(relation, key, name_column, names, values) -%}
    {#- One row per `key` of `relation` (long rows: a name in `name_column`), a column
        <prefix>_<n> per (value expression, prefix) of `values` and per name of `names`
        (n counts from 1 in the order of `names`): the value of the row named so, null
        when there is none. Portable: max() over a case. -#}
    select
        {{ key }}
        {%- for value, prefix in values %}
            {%- for name in names %},
                max(case when {{ name_column }} = '{{ name }}' then {{ value }} end) as {{ prefix }}_{{ loop.index }}
            {%- endfor %}
        {%- endfor %}
    from {{ relation }}
    group by {{ key }}
{%- endmacro %}
