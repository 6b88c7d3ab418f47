{#- The rows of a table of the `history` source (what the last published warehouse said,
    copied in by `customer-chunks run`), or no rows with the right columns when the build
    file has no such table: a first run, or a bare `dbt build`. The columns of an empty
    history table come from the mart of the same name (its contract is their one home),
    or from the source's own YAML for current_run. -#}
{% macro history_table(name) -%}
    {%- set relation = source('history', name) -%}
    {%- set found = none -%}
    {%- if execute -%}
        {%- set found = adapter.get_relation(
            database=relation.database, schema=relation.schema, identifier=relation.identifier
        ) -%}
    {%- endif -%}
    {%- if found is not none -%}
    select * from {{ relation }}
    {%- else -%}
        {%- set columns = history_columns(name) -%}
    select
        {%- for column in columns %}
        cast(null as {{ history_data_type(column.data_type) }}) as {{ column.name }}{{ "," if not loop.last }}
        {%- endfor %}
    where 1 = 0
    {%- endif -%}
{%- endmacro %}

{% macro history_columns(name) -%}
    {%- if not execute -%}
        {{ return([{'name': 'placeholder', 'data_type': 'integer'}]) }}
    {%- endif -%}
    {%- set source_node = graph.sources.get('source.customer_chunks.history.' ~ name) -%}
    {%- set model_node = graph.nodes.get('model.customer_chunks.' ~ name) -%}
    {%- set node = model_node if model_node is not none else source_node -%}
    {%- set columns = (node.columns.values() | list) if node is not none else [] -%}
    {%- if not columns or columns | selectattr('data_type', 'none') | list -%}
        {{ exceptions.raise_compiler_error(
            "history_table: no columns with data_type for history table " ~ name
            ~ ". Fix: declare them in the YAML of the mart " ~ name ~ " (or of source history."
            ~ name ~ ")."
        ) }}
    {%- endif -%}
    {{ return(columns) }}
{%- endmacro %}

{#- A column's data_type from the YAML for the cast above. Types spelled differently per
    engine are written there as Jinja (the &string_type / &double_type anchors); a source's
    column data_type reaches the graph unrendered, so map those to the adapter's types. -#}
{% macro history_data_type(data_type) -%}
    {%- if '{{' not in data_type -%}
        {{ return(data_type) }}
    {%- elif "'string'" in data_type -%}
        {{ return(dbt.type_string()) }}
    {%- elif "'double'" in data_type -%}
        {{ return(type_double()) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(
        "history_table: cannot read the data_type " ~ data_type
        ~ ". Fix: use a plain type or one of the &string_type / &double_type anchors."
    ) }}
{%- endmacro %}
