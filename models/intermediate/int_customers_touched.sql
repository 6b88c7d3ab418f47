{#- The customers whose features an append run (`customer-chunks run --append`) must
    recompute: those with a row loaded by this run (above the table's watermark) and
    those with an event between the previous and the new reference date of a snapshot
    (it enters or leaves "before the snapshot date", or the web window). Every other
    customer's stored activity is unchanged; only their date differences move, which
    int_customer_features_by_snapshot recomputes for everyone. On a full run the
    watermarks are 0, so every customer with a row is touched.
    Under `customer-chunks score` (macro score_changed_only) only the customers with a
    new row: a customer whose features move only because the date moved has not
    changed, and keeps the last run's score (`score --all` rescores everyone). -#}
{%- set web_shift = "-(select web_window_days from windows)" -%}
{%- set windows = {} -%}
{%- for snapshot in ['current', 'training'] -%}
    {%- set start = "(select " ~ snapshot ~ "_start from windows)" -%}
    {%- set end = "(select " ~ snapshot ~ "_end from windows)" -%}
    {%- do windows.update({
        snapshot: [start, end],
        snapshot ~ '_web': [dbt.dateadd('day', web_shift, start), dbt.dateadd('day', web_shift, end)],
    }) -%}
{%- endfor -%}
with

watermarks as (
    select * from {{ source('customer_data', 'append_watermarks') }}
),

state as (
    select * from {{ source('customer_data', 'append_state') }}
),

parameters as (
    select * from {{ ref('int_run_parameters') }}
),

windows as (
    {#- [start, end): the days between the old and the new date of each snapshot
        (either way round); null, so nothing moved, on a full run or an unchanged date.
        One row; each filter below reads it as a scalar, so every event table is
        scanned once with plain comparisons (a join on a range took 82 s at 1M). -#}
    select
        {% for old, new, name in [
            ('previous_as_of_date', 'as_of_date', 'current'),
            ('previous_training_cutoff_date', 'training_cutoff_date', 'training'),
        ] -%}
            case
                when state.{{ old }} < parameters.{{ new }} then state.{{ old }}
                else parameters.{{ new }}
            end as {{ name }}_start,
            case
                when state.{{ old }} < parameters.{{ new }} then parameters.{{ new }}
                else state.{{ old }}
            end as {{ name }}_end,
        {% endfor -%}
        parameters.web_window_days
    from state
    cross join parameters
),


touched_by_table as (
    {#- One scan of each staged table, each read directly rather than through an import
        CTE (DuckDB materialises a CTE read twice): a row above the watermark, or a
        staged event in a moved window (it enters or leaves "before the snapshot date";
        a web event also enters or leaves the web window, web_window_days earlier).
        Customers have no event time: only their new rows count. -#}
    {%- for table, time_column, moved in [
        ('transactions', 'ordered_at', ['current', 'training']),
        ('engagement_events', 'occurred_at', ['current', 'training']),
        ('web_events', 'occurred_at', ['current', 'training', 'current_web', 'training_web']),
        ('customers', none, []),
    ] %}
        {%- if not loop.first %}
            union all
        {%- endif %}
        select customer_id
        from {{ ref('base_customer_data__' ~ table ~ '_checked') }}
        where
            source_row_id > (
                select watermarks.previous_max_row_id from watermarks
                where watermarks.table_name = '{{ table }}'
            )
            {%- if moved and not customer_chunks.score_changed_only() %}
                or quarantine_reason is null and (
                    {%- for window in moved %}
                        {%- if not loop.first %}
                            or
                        {%- endif %}
                        (
                            {{ time_column }} >= {{ windows[window][0] }}
                            and {{ time_column }} < {{ windows[window][1] }}
                        )
                    {%- endfor %}
                )
            {%- endif %}
    {%- endfor %}
),

touched as (
    select distinct customer_id
    from touched_by_table
    where customer_id is not null
)

select * from touched
