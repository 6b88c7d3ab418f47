{#- Helpers for the checked base models in models/staging/customer_data/base.

    A raw column is read the cheapest way its type allows. CSV inputs arrive as text:
    they are trimmed and a blank value counts as missing. Typed inputs (Parquet) are
    used as they are: at a million customers, casting every timestamp and number to
    text and back took more than half of the staging time. -#}

{% macro text_columns(relation) -%}
    {#- Lower-cased names of the text columns of `relation`; none while parsing. -#}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- if column.is_string() -%}
            {%- do names.append(column.name | lower) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{% macro is_blank(column, text_columns) -%}
    {#- True when the raw value is missing: null, or blank text for a text column.
        `column` may be qualified (source.ordered_at) and quoted; its last part names it. -#}
    {%- set name = column.split('.') | last | lower | replace('"', '') | replace('`', '') -%}
    {%- if text_columns is none or name in text_columns -%}
        (nullif(trim({{ column }}), '') is null)
    {%- else -%}
        ({{ column }} is null)
    {%- endif -%}
{%- endmacro %}

{% macro as_read(column) -%}
    {#- The raw value as text, for a quarantined row's source_values. -#}
    coalesce(cast({{ column }} as {{ dbt.type_string() }}), '')
{%- endmacro %}

{% macro row_hash(columns) -%}
    {{ return(adapter.dispatch('row_hash', 'customer_chunks')(columns)) }}
{%- endmacro %}

{% macro default__row_hash(columns) -%}
    {#- md5 of the values with a marker for null; equal rows hash equal. -#}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- if not loop.first -%}
            {%- do parts.append("'|'") -%}
        {%- endif -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '<null>')") -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{% macro duckdb__row_hash(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__row_hash(columns) -%}
    {#- Spark's native 64-bit hash of the values. It skips nulls, so rows that differ
        only in where a null is can share a hash: that adds a candidate, never a false
        repeat (repeated_rows compares the columns). The portable md5 of the columns cast
        to strings took 2.3 times as long per pass over 46M raw lines (125-141 s
        against 53-61 s on local[2]). -#}
    xxhash64({{ columns | join(', ') }})
{%- endmacro %}

{% macro repeated_rows(relation, columns, table_name=none) -%}
    {#- One row per raw row of `relation` that repeats an earlier row exactly (every
        one of `columns` equal as read, nulls equal), with the first row it repeats.
        Two steps, so the exact comparison sorts only the few rows whose hash occurs
        more than once: a hash collision adds a candidate, never a false repeat.
        Incremental (`run --append`, `table_name` given): only the rows above the
        table's watermark are new; they are compared with every row of the same
        customer_id (every repeat has the same customer_id, `columns` include it), so
        the result equals a full rebuild's at the cost of the touched customers. -#}
{%- set appending = table_name is not none and is_incremental() -%}
{%- set scope = 'rows_in_scope' if appending else relation -%}
with
{% if appending %}
rows_in_scope as (
    {#- Read by both steps below, so DuckDB scans the raw table once and keeps the
        touched customers' rows (a second scan of the raw Parquet took ~5 s of
        `customer-chunks score` at 1M customers). -#}
    select * from {{ relation }}
    where
        customer_id in (
            select new_rows.customer_id from {{ relation }} as new_rows
            where new_rows._row_id > {{ customer_chunks.append_watermark(table_name) }}
        )
        or customer_id is null
),
{% endif %}
repeated_hashes as (
    select {{ customer_chunks.row_hash(columns) }} as row_hash
    from {{ scope }}
    group by {{ customer_chunks.row_hash(columns) }}
    having count(*) > 1
),

candidates as (
    select
        _row_id as source_row_id,
        row_number() over (
            partition by {{ columns | join(', ') }}
            order by _row_id
        ) as copy_number,
        min(_row_id) over (
            partition by {{ columns | join(', ') }}
        ) as first_source_row_id
    from {{ scope }}
    where {{ customer_chunks.row_hash(columns) }} in (select row_hash from repeated_hashes)
)

select
    source_row_id,
    first_source_row_id,
    copy_number
from candidates
where
    copy_number > 1
    {%- if appending %}
        and source_row_id > {{ customer_chunks.append_watermark(table_name) }}
    {%- endif %}
{%- endmacro %}

{% macro duplicate_rule() -%}
    {#- The var quarantine_duplicates as one of auto, always, never.
        auto: an exact repeat is quarantined as `duplicate` only when an id makes it
        provably the same line (a transaction with an order id; a customer row, whose
        id is the key); repeats without one are staged and counted in
        marts.duplicate_summary. true/always and false/never force either way. -#}
    {%- set value = var('quarantine_duplicates') -%}
    {%- set text = (value | string | lower | trim) -%}
    {%- if text in ['auto'] -%}
        {{ return('auto') }}
    {%- elif text in ['true', 'always', 'yes'] -%}
        {{ return('always') }}
    {%- elif text in ['false', 'never', 'no'] -%}
        {{ return('never') }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(
        "var quarantine_duplicates must be auto, true or false, got '" ~ value ~ "'"
    ) }}
{%- endmacro %}

{% macro is_not_finite(column) -%}
    {{ return(adapter.dispatch('is_not_finite', 'customer_chunks')(column)) }}
{%- endmacro %}

{% macro default__is_not_finite(column) -%}
    {#- NaN or an infinity (a number that parsed but is not a usable value). -#}
    ({{ column }} in (
        cast('NaN' as {{ type_double() }}),
        cast('Infinity' as {{ type_double() }}),
        cast('-Infinity' as {{ type_double() }})
    ))
{%- endmacro %}

{% macro duckdb__is_not_finite(column) -%}
    (not isfinite({{ column }}))
{%- endmacro %}

{% macro is_implausible_timestamp(column) -%}
    {#- Before var earliest_plausible_timestamp (year-1 dates, -infinity): such a value
        parses but would give a tenure of hundreds of thousands of days. -#}
    ({{ column }} < {{ dbt.safe_cast(dbt.string_literal(var('earliest_plausible_timestamp')), dbt.type_timestamp()) }})
{%- endmacro %}

{% macro is_implausible_amount(columns) -%}
    {#- Any of `columns` (numbers) at or above var max_plausible_amount in absolute
        value: money is kept as numeric(18,6), which holds less than 1e12. -#}
    ({% for column in columns %}abs({{ column }}) >= {{ var('max_plausible_amount') }}{% if not loop.last %} or {% endif %}{% endfor %})
{%- endmacro %}

{% macro one_row_per_customer(checked) -%}
    {#- Two CTEs, `numbered` and `reasoned`, over the CTE `checked` (source_row_id,
        customer_id, rule_reason, is_repeat): quarantine_reason is the rule's reason,
        else `duplicate` for an exact repeat (the customer id proves it; not under
        quarantine_duplicates: false), else `duplicate_customer_id` for a later row of
        the same customer: one row per customer is staged, the first in input order. -#}
numbered as (
    select
        *,
        row_number() over (
            partition by customer_id, rule_reason is null
            order by source_row_id
        ) as customer_row_number
    from {{ checked }}
),

reasoned as (
    select
        *,
        case
            when rule_reason is not null then rule_reason
            {%- if customer_chunks.duplicate_rule() != 'never' %}
                when is_repeat then 'duplicate'
            {%- endif %}
            when customer_row_number > 1 then 'duplicate_customer_id'
        end as quarantine_reason
    from numbered
)
{%- endmacro %}

{% macro append_watermark(table_name) -%}
    {#- The highest row id of `table_name` loaded before this run (0 on a full run):
        incremental staging models process only the rows above it. Read when the
        model runs and written into its SQL as a number, so the scan can skip the
        row groups of earlier batches (a subquery would not). -#}
    {%- if execute -%}
        {%- set found = run_query(
            "select previous_max_row_id from "
            ~ source('customer_data', 'append_watermarks')
            ~ " where table_name = '" ~ table_name ~ "'"
        ) -%}
        {{ found.columns[0].values()[0] }}
    {%- else -%}
        0
    {%- endif -%}
{%- endmacro %}
