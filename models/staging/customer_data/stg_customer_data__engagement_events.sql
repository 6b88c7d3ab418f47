with

checked as (
    select * from {{ ref('base_customer_data__engagement_events_checked') }}
),

staged as (
    select
        -- ids
        source_row_id as engagement_event_id,
        customer_id,
        campaign_id,

        -- strings
        channel,
        event_type,

        -- timestamps
        occurred_at

    from checked
    where quarantine_reason is null
)

select * from staged
