{% macro snapshot_dates(parameters) -%}
    {#- The two snapshots of a run, one row each: `current` at as_of_date and `training`
        at training_cutoff_date, read from the CTE `parameters` (int_run_parameters). -#}
    select
        'current' as snapshot_name,
        as_of_date as snapshot_date
    from {{ parameters }}
    union all
    select
        'training' as snapshot_name,
        training_cutoff_date as snapshot_date
    from {{ parameters }}
{%- endmacro %}
