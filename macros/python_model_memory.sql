{% macro python_model_memory_limit() -%}
    {#- Pre-hook of the dbt Python models (dbt_project.yml, models: ml): DuckDB's
        memory_limit while the model runs, the share `ml_duckdb_memory_share` of the
        profile's (at least 1GB, never above the profile's). DuckDB keeps what it has
        cached or allocated up to its limit after the SQL models, and the Python model's
        pandas frames come on top in the same process: at 10M customers with a 10GB
        limit the segmentation model reached 15.3 GiB (bench/results/2026-12-03-10m-timeout.md).
        Setting a lower limit makes DuckDB evict and hand the memory back; the post-hook
        (python_model_memory_restore) sets the profile's limit again. Nothing when the
        profile sets no memory_limit, or off DuckDB. -#}
    {%- set configured = customer_chunks._profile_memory_limit() -%}
    {%- if configured is not none -%}
        {%- set total = customer_chunks.memory_bytes(configured) -%}
        {%- set share = (total * var('ml_duckdb_memory_share')) | int -%}
        set memory_limit = '{{ [[share, 1000000000] | max, total] | min }}B'
    {%- endif -%}
{%- endmacro %}

{% macro python_model_memory_restore() -%}
    {#- Post-hook of the dbt Python models: the profile's memory_limit again, as written. -#}
    {%- set configured = customer_chunks._profile_memory_limit() -%}
    {%- if configured is not none -%}
        set memory_limit = '{{ configured }}'
    {%- endif -%}
{%- endmacro %}

{% macro _profile_memory_limit() -%}
    {%- if target.type != 'duckdb' or not target.get('settings') -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(target.settings.get('memory_limit')) }}
{%- endmacro %}

{% macro memory_bytes(text) -%}
    {#- Bytes of a DuckDB memory size such as 10GB, 1.5GiB or 500MB (KB/MB/GB/TB are
        powers of 1000, KiB/MiB/GiB/TiB of 1024, as DuckDB reads them). -#}
    {%- set units = {
        'b': 1, 'bytes': 1,
        'kb': 1000, 'mb': 1000 ** 2, 'gb': 1000 ** 3, 'tb': 1000 ** 4,
        'kib': 1024, 'mib': 1024 ** 2, 'gib': 1024 ** 3, 'tib': 1024 ** 4,
    } -%}
    {%- set match = modules.re.match('^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$', text | string) -%}
    {%- set unit = (match.group(2) if match else '').lower() or 'b' -%}
    {%- if not match or unit not in units -%}
        {{ exceptions.raise_compiler_error(
            "profiles.yml: memory_limit " ~ (text | tojson) ~ " is not a DuckDB memory size; "
            ~ "write it like 10GB or 1.5GiB (set CUSTOMER_CHUNKS_MEMORY)"
        ) }}
    {%- endif -%}
    {{ return((match.group(1) | float * units[unit]) | int) }}
{%- endmacro %}
