{#- Money is summed as this exact decimal type, then cast to double: a parallel sum of
    doubles depends on the order rows arrive in, so two runs on the same data could
    differ in the last bits. 18 digits fit in 8 bytes (as fast as summing doubles on
    DuckDB); 6 decimals keep fractions of a cent; lines up to 10^12 fit. -#}
{% macro type_money() -%}
    {{ return(api.Column.numeric_type('numeric', 18, 6)) }}
{%- endmacro %}
