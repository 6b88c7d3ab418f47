{#- 1 + the number of the four cut points (columns cut_1..cut_4 of `cuts`) strictly
    below `value`: 1-5, equal values always get equal scores. -#}
{% macro score_against_cuts(value, cuts) -%}
    (
        1
        + case when {{ value }} > {{ cuts }}.cut_1 then 1 else 0 end
        + case when {{ value }} > {{ cuts }}.cut_2 then 1 else 0 end
        + case when {{ value }} > {{ cuts }}.cut_3 then 1 else 0 end
        + case when {{ value }} > {{ cuts }}.cut_4 then 1 else 0 end
    )
{%- endmacro %}
