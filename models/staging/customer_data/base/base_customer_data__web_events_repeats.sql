{{ config(materialized='incremental') }}
{#- Raw web events that repeat an earlier event exactly (see the repeated_rows macro). -#}
{{ customer_chunks.repeated_rows(
    source('customer_data', 'web_events'),
    ['customer_id', 'session_id', 'event_type', 'occurred_at'],
    'web_events'
) }}
