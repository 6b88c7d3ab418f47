with

checked as (
    select * from {{ ref('base_customer_data__web_events_checked') }}
),

staged as (
    select
        -- ids
        source_row_id as web_event_id,
        customer_id,
        session_id,

        -- strings
        event_type,

        -- timestamps
        occurred_at

    from checked
    where quarantine_reason is null
)

select * from staged
