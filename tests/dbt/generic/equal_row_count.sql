{#- Fails when `model` and `compare_model` (optionally filtered) hold different row counts. -#}
{% test equal_row_count(model, compare_model, compare_filter='1 = 1') %}
with

counts as (
    select
        (select count(*) from {{ model }}) as model_rows,
        (select count(*) from {{ compare_model }} where {{ compare_filter }}) as compare_rows
)

select *
from counts
where model_rows != compare_rows
{% endtest %}
