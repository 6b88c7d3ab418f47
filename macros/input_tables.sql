{% macro input_tables() -%}
    {#- The contract tables, in the order of customer_chunks.contract.CONTRACT (its home;
        tests/test_one_home.py fails when the two differ). Each has a checked base model
        and a staging model named after it. -#}
    {{ return(['transactions', 'customers', 'web_events', 'engagement_events', 'customer_features']) }}
{%- endmacro %}
