{% macro touched_customers_only() -%}
    {#- The filter an incremental per-customer model puts on its inputs: under
        `run --append` (and the scratch build of `customer-chunks score`) only the
        customers of int_customers_touched; nothing on a full run. The model declares
        `-- depends_on: {{ ref('int_customers_touched') }}`. -#}
    {%- if is_incremental() %}
        where customer_id in (select customer_id from {{ ref('int_customers_touched') }})
    {%- endif %}
{%- endmacro %}

{% macro delete_touched_customers() -%}
    {#- The pre-hook of the same models: delete the touched customers' rows, which the
        model then appends again, recomputed. -#}
    {%- if is_incremental() -%}
        delete from {{ this }} where customer_id in
            (select customer_id from {{ ref('int_customers_touched') }})
    {%- endif -%}
{%- endmacro %}
