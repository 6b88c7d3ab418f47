{#- The customer_features input (one row per customer with precomputed metrics). -#}

{% macro customer_feature_columns() -%}
    {#- The contract's feature columns of a customer_features table, in order: the one
        home is customer_chunks.contract.CUSTOMER_FEATURE_COLUMNS, which
        tests/test_customer_features.py compares with this list. -#}
    {{ return([
        'recency_days', 'frequency', 'gross_revenue', 'returned_revenue', 'monetary',
        'avg_order_value', 'tenure_days', 'avg_days_between_orders', 'distinct_categories',
        'return_rate', 'web_sessions_90d', 'web_events_90d', 'add_to_cart_90d',
        'checkouts_90d', 'cart_to_purchase_rate', 'email_open_rate', 'email_click_rate',
        'days_since_last_engagement', 'engagement_score', 'age'
    ]) }}
{%- endmacro %}

{% macro customer_feature_extra_columns(relation) -%}
    {#- Lower-cased names of the extra numeric columns of raw.customer_features: every
        column the loader wrote beyond _row_id, customer_id and the contract's features
        (a source file's extra_columns; the source checks their names). Empty while
        parsing. -#}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set known = ['_row_id', 'customer_id'] + customer_chunks.customer_feature_columns() -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- if (column.name | lower) not in known -%}
            {%- do names.append(column.name | lower) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}
