{#- The rows of one output of an ML run model. The run model (ml_segmentation_run,
    ml_high_value_run) is one row with a column per output holding the output's rows
    as a list of structs (customer_chunks.ml_tables.pack); this turns one column back
    into rows with a column per struct field. Python models run on DuckDB only, so
    other adapters get a clear error instead of SQL that cannot work. -#}
{% macro ml_output(run, output) -%}
    {{ return(adapter.dispatch('ml_output', 'customer_chunks')(run, output)) }}
{%- endmacro %}

{% macro default__ml_output(run, output) -%}
    {%- if execute -%}
        {{ exceptions.raise_compiler_error(
            "ml_output: the ML outputs come from dbt Python models, which this project runs "
            ~ "on DuckDB only; adapter " ~ adapter.type() ~ " cannot read " ~ output
            ~ ". Fix: build the ML models and marts with the duckdb target."
        ) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__ml_output(run, output) -%}
    select unnest({{ adapter.quote(output) }}, recursive := true) from {{ run }}
{%- endmacro %}

{#- The select list of a mart: every column of the model's contract (its YAML), in
    contract order, cast to the contract's data_type and named as in the contract. The
    relation selected from must have a column of each name; computed columns are made
    in a CTE before. The YAML is then the one home of the mart's columns and types. -#}
{% macro contract_columns() -%}
    {%- if execute -%}
        {%- set columns = model.columns.values() | list -%}
        {%- if not columns -%}
            {{ exceptions.raise_compiler_error(
                "contract_columns: model " ~ model.name ~ " has no columns in its YAML. "
                ~ "Fix: list its columns with name and data_type in the model's YAML entry."
            ) }}
        {%- endif -%}
        {%- for column in columns -%}
            {%- if not column.data_type -%}
                {{ exceptions.raise_compiler_error(
                    "contract_columns: column " ~ column.name ~ " of model " ~ model.name
                    ~ " has no data_type. Fix: add data_type to it in the model's YAML entry."
                ) }}
            {%- endif %}
    cast({{ column.name }} as {{ column.data_type }}) as {{ column.name }}{{ "," if not loop.last }}
        {%- endfor -%}
    {%- else -%}
    *
    {%- endif -%}
{%- endmacro %}
