{#- The customers whose features an append run (`customer-chunks run --append`) must
    recompute: those with a row loaded by this run (above the table's watermark) and
    those with an event between the previous and the new reference date of a snapshot
    (it enters or leaves "before the snapshot date", or the web window). Every other
    customer's stored activity is unchanged; only their date differences move, which
    int_customer_features_by_snapshot recomputes for everyone. On a full run the
    watermarks are 0, so every customer with a row is touched. -#}
with

watermarks as (
    select * from {{ source('customer_data', 'append_watermarks') }}
),

state as (
    select * from {{ source('customer_data', 'append_state') }}
),

parameters as (
    select * from {{ ref('int_run_parameters') }}
),

transactions as (
    select * from {{ ref('base_customer_data__transactions_checked') }}
),

web_events as (
    select * from {{ ref('base_customer_data__web_events_checked') }}
),

engagement_events as (
    select * from {{ ref('base_customer_data__engagement_events_checked') }}
),

customers as (
    select * from {{ ref('base_customer_data__customers_checked') }}
),

moved_windows as (
    {#- [window_start, window_end): the days between the old and the new snapshot date
        (either way round); none on a full run -#}
    select
        case
            when state.previous_as_of_date < parameters.as_of_date
                then state.previous_as_of_date
            else parameters.as_of_date
        end as window_start,
        case
            when state.previous_as_of_date < parameters.as_of_date
                then parameters.as_of_date
            else state.previous_as_of_date
        end as window_end
    from state
    cross join parameters
    where state.previous_as_of_date <> parameters.as_of_date
    union all
    select
        case
            when state.previous_training_cutoff_date < parameters.training_cutoff_date
                then state.previous_training_cutoff_date
            else parameters.training_cutoff_date
        end as window_start,
        case
            when state.previous_training_cutoff_date < parameters.training_cutoff_date
                then parameters.training_cutoff_date
            else state.previous_training_cutoff_date
        end as window_end
    from state
    cross join parameters
    where state.previous_training_cutoff_date <> parameters.training_cutoff_date
),

web_windows as (
    {#- web activity counts events in [date - web_window_days, date): its start moves too -#}
    select
        window_start,
        window_end
    from moved_windows
    union all
    select
        cast({{ dbt.dateadd('day', -var('web_window_days'), 'window_start') }} as date)
            as window_start,
        cast({{ dbt.dateadd('day', -var('web_window_days'), 'window_end') }} as date)
            as window_end
    from moved_windows
),

new_rows as (
    select transactions.customer_id
    from transactions
    inner join watermarks
        on
            watermarks.table_name = 'transactions'
            and transactions.source_row_id > watermarks.previous_max_row_id
    union all
    select web_events.customer_id
    from web_events
    inner join watermarks
        on
            watermarks.table_name = 'web_events'
            and web_events.source_row_id > watermarks.previous_max_row_id
    union all
    select engagement_events.customer_id
    from engagement_events
    inner join watermarks
        on
            watermarks.table_name = 'engagement_events'
            and engagement_events.source_row_id > watermarks.previous_max_row_id
    union all
    select customers.customer_id
    from customers
    inner join watermarks
        on
            watermarks.table_name = 'customers'
            and customers.source_row_id > watermarks.previous_max_row_id
),

moved_rows as (
    select transactions.customer_id
    from transactions
    inner join moved_windows
        on
            transactions.ordered_at >= moved_windows.window_start
            and transactions.ordered_at < moved_windows.window_end
    where transactions.quarantine_reason is null
    union all
    select engagement_events.customer_id
    from engagement_events
    inner join moved_windows
        on
            engagement_events.occurred_at >= moved_windows.window_start
            and engagement_events.occurred_at < moved_windows.window_end
    where engagement_events.quarantine_reason is null
    union all
    select web_events.customer_id
    from web_events
    inner join web_windows
        on
            web_events.occurred_at >= web_windows.window_start
            and web_events.occurred_at < web_windows.window_end
    where web_events.quarantine_reason is null
),

touched as (
    select customer_id from new_rows
    union
    select customer_id from moved_rows
)

select customer_id
from touched
where customer_id is not null
