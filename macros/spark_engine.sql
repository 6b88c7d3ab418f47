{#- Spark-only helpers (dbt-spark, method: session on local[2] or a cluster). -#}

{% macro spark_load_raw_parquet(folder, tables) -%}
    {#- Replace raw.<table> with the Parquet file folder/<table>.parquet for each of
        `tables` (written by `customer-chunks load --target spark`). Runs in the
        target's own session, so the tables land in its warehouse and metastore. -#}
    {%- if target.type != 'spark' -%}
        {{ exceptions.raise_compiler_error(
            "spark_load_raw_parquet runs on a spark target, not " ~ target.type
        ) }}
    {%- endif -%}
    {%- do run_query('create schema if not exists raw') -%}
    {%- for table in tables -%}
        {%- do run_query('drop table if exists raw.' ~ table) -%}
        {%- do run_query(
            'create table raw.' ~ table ~ ' using parquet as select * from parquet.`'
            ~ folder ~ '/' ~ table ~ '.parquet`'
        ) -%}
        {%- do log('raw.' ~ table ~ ' loaded', info=true) -%}
    {%- endfor -%}
{%- endmacro %}

{% macro spark__load_csv_rows(model, agate_table) %}
    {#- dbt-spark 1.11's own macro, but with the values written into the statement as
        escaped literals instead of bindings: with method: session its cursor pastes
        each binding between single quotes unescaped, so a seed value with an
        apostrophe ("Can't Lose Them") broke the statement (and the target context does
        not say which method is in use). Spark string literals take backslash escapes. -#}
    {% set batch_size = get_batch_size() %}
    {% set column_override = model['config'].get('column_types', {}) %}
    {% set statements = [] %}
    {% for chunk in agate_table.rows | batch(batch_size) %}
        {% set sql %}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                    {%- set type = column_override.get(col_name, inferred_type) -%}
                    {%- set value = row[loop.index0] -%}
                    {%- if value is none -%}
                        {%- set literal = 'null' -%}
                    {%- elif value is sameas true or value is sameas false -%}
                        {%- set literal = (value | string | lower) -%}
                    {%- elif value is number -%}
                        {%- set literal = value | string -%}
                    {%- else -%}
                        {%- set literal = "'" ~ (value | string | replace('\\', '\\\\') | replace("'", "\\'")) ~ "'" -%}
                    {%- endif -%}
                    cast({{ literal }} as {{ type }})
                    {%- if not loop.last %},{%- endif %}
                {%- endfor -%})
                {%- if not loop.last %},{%- endif %}
            {%- endfor %}
        {% endset %}
        {% do adapter.add_query(sql, abridge_sql_log=True) %}
        {% if loop.index0 == 0 %}
            {% do statements.append(sql) %}
        {% endif %}
    {% endfor %}
    {{ return(statements[0]) }}
{% endmacro %}
