{% macro snapshot_dates(parameters) -%}
    {#- The two snapshots of a run, one row each: `current` at as_of_date and `training`
        at training_cutoff_date, read from the CTE `parameters` (int_run_parameters).
        `current` only in the scratch build of `customer-chunks score` (var
        score_changed_only): scoring reads nothing else, and training is for a fit. -#}
    select
        'current' as snapshot_name,
        as_of_date as snapshot_date
    from {{ parameters }}
    {%- if not customer_chunks.score_changed_only() %}
    union all
    select
        'training' as snapshot_name,
        training_cutoff_date as snapshot_date
    from {{ parameters }}
    {%- endif %}
{%- endmacro %}

{% macro score_changed_only() -%}
    {#- True in the scratch build of `customer-chunks score` (its --vars), which sets the
        var; not a project var users set: a run with it would lose the training
        snapshot. A customer with a new row has changed, one whose features move only
        because as_of moved has not (int_customers_touched), and only the `current`
        snapshot is computed (snapshot_dates). -#}
    {{ return(var('score_changed_only', false)) }}
{%- endmacro %}
