{#- Every raw engagement event, typed, with the reason it cannot be staged (null when it can). -#}
with

source as (
    select * from {{ source('customer_data', 'engagement_events') }}
),

renamed as (
    select
        -- ids
        _row_id as source_row_id,
        nullif(trim(cast(customer_id as {{ dbt.type_string() }})), '') as customer_id,
        nullif(trim(cast(campaign_id as {{ dbt.type_string() }})), '') as campaign_id,

        -- strings
        lower(nullif(trim(cast(channel as {{ dbt.type_string() }})), '')) as channel,
        lower(nullif(trim(cast(event_type as {{ dbt.type_string() }})), '')) as event_type,
        nullif(trim(cast(occurred_at as {{ dbt.type_string() }})), '') as occurred_at_text,

        -- timestamps
        {{ dbt.safe_cast("occurred_at", dbt.type_timestamp()) }} as occurred_at

    from source
),

checked as (
    select
        *,
        case
            when customer_id is null then 'missing_customer_id'
            when occurred_at_text is null then 'missing_timestamp'
            when occurred_at is null then 'unparseable_timestamp'
            when occurred_at > {{ dbt.current_timestamp() }} then 'future_timestamp'
            when event_type is null then 'missing_event_type'
        end as rule_reason
    from renamed
),

numbered as (
    select
        *,
        row_number() over (
            partition by customer_id, campaign_id, channel, event_type, occurred_at_text
            order by source_row_id
        ) as copy_number
    from checked
),

reasoned as (
    select
        *,
        case
            when rule_reason is not null then rule_reason
            {%- if var('quarantine_duplicates', true) %}
                when copy_number > 1 then 'duplicate'
            {%- endif %}
        end as quarantine_reason
    from numbered
),

final as (
    select
        source_row_id,
        customer_id,
        campaign_id,
        channel,
        event_type,
        occurred_at,
        quarantine_reason,
        case
            when quarantine_reason is not null
                then {{ dbt.concat([
            "coalesce(customer_id, '')", "' | '",
            "coalesce(campaign_id, '')", "' | '",
            "coalesce(channel, '')", "' | '",
            "coalesce(event_type, '')", "' | '",
            "coalesce(occurred_at_text, '')"
        ]) }}
        end as source_values
    from reasoned
)

select * from final
