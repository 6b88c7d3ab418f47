{{ config(materialized='incremental') }}
{#- Every raw engagement event, typed, with the reason it cannot be staged (null when it can). -#}
{%- set raw = source('customer_data', 'engagement_events') -%}
{%- set text_columns = customer_chunks.text_columns(raw) -%}
{%- set duplicate_rule = customer_chunks.duplicate_rule() -%}
with

source as (
    select * from {{ raw }}
    {%- if is_incremental() %}
        where _row_id > {{ customer_chunks.append_watermark('engagement_events') }}
    {%- endif %}
),

repeats as (
    select * from {{ ref('base_customer_data__engagement_events_repeats') }}
),

renamed as (
    select
        -- ids
        source._row_id as source_row_id,
        nullif(trim(cast(source.customer_id as {{ dbt.type_string() }})), '') as customer_id,
        nullif(trim(cast(source.campaign_id as {{ dbt.type_string() }})), '') as campaign_id,

        -- strings
        lower(nullif(trim(cast(source.channel as {{ dbt.type_string() }})), '')) as channel,
        lower(nullif(trim(cast(source.event_type as {{ dbt.type_string() }})), '')) as event_type,

        -- timestamps
        {{ dbt.safe_cast("source.occurred_at", dbt.type_timestamp()) }} as occurred_at,

        -- booleans
        {{ customer_chunks.is_blank('source.occurred_at', text_columns) }} as is_occurred_at_blank,
        repeats.source_row_id is not null as is_repeat,

        -- values as read, for source_values
        source.customer_id as raw_customer_id,
        source.campaign_id as raw_campaign_id,
        source.channel as raw_channel,
        source.event_type as raw_event_type,
        source.occurred_at as raw_occurred_at

    from source
    left join repeats
        on source._row_id = repeats.source_row_id
),

checked as (
    select
        *,
        case
            when customer_id is null then 'missing_customer_id'
            when is_occurred_at_blank then 'missing_timestamp'
            when occurred_at is null then 'unparseable_timestamp'
            when occurred_at > {{ dbt.current_timestamp() }} then 'future_timestamp'
            when {{ customer_chunks.is_implausible_timestamp('occurred_at') }} then 'implausible_timestamp'
            when event_type is null then 'missing_event_type'
            {#- Events carry no event id, so under `auto` a repeat is not provably the
                same event: it is staged and counted in marts.duplicate_summary. #}
            {%- if duplicate_rule == 'always' %}
                when is_repeat then 'duplicate'
            {%- endif %}
        end as quarantine_reason
    from renamed
),

final as (
    select
        source_row_id,
        customer_id,
        campaign_id,
        channel,
        event_type,
        occurred_at,
        is_repeat,
        quarantine_reason,
        case
            when quarantine_reason is not null
                then {{ dbt.concat([
            customer_chunks.as_read('raw_customer_id'), "' | '",
            customer_chunks.as_read('raw_campaign_id'), "' | '",
            customer_chunks.as_read('raw_channel'), "' | '",
            customer_chunks.as_read('raw_event_type'), "' | '",
            customer_chunks.as_read('raw_occurred_at')
        ]) }}
        end as source_values
    from checked
)

select * from final
