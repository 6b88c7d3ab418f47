{{ config(materialized='incremental') }}
{#- Raw engagement events that repeat an earlier event exactly (see the repeated_rows macro). -#}
{{ customer_chunks.repeated_rows(
    source('customer_data', 'engagement_events'),
    ['customer_id', 'campaign_id', 'channel', 'event_type', 'occurred_at'],
    'engagement_events'
) }}
