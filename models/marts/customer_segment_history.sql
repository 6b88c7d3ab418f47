{#- Slowly changing segment membership, rebuilt each run from the last published rows
    (history) and this run's stable ids: an open row (valid_to_run_id null) whose customer
    is in the same segment stays open; one whose customer moved or left is closed at this
    run; a customer with no open row in their segment gets a new row from this run.
    Columns, types and docs: the contract in _lifecycle__models.yml. -#}
with

previous as (
    select * from {{ ref('stg_history__customer_segment_history') }}
),

this_run as (
    select * from {{ ref('int_lifecycle_current_run') }}
),

assignments as (
    select * from {{ ref('segment_assignments') }}
),

matches as (
    select * from {{ ref('segment_matches') }}
),

current_segments as (
    select
        assignments.customer_id,
        assignments.stable_segment_id as segment_id,
        matches.segment_name
    from assignments
    inner join matches
        on
            assignments.stable_segment_id = matches.stable_segment_id
            and matches.match_status != 'retired'
),

closed_rows as (
    select * from previous
    where valid_to_run_id is not null
),

open_rows as (
    select * from previous
    where valid_to_run_id is null
),

kept_open as (
    select open_rows.*
    from open_rows
    inner join current_segments
        on
            open_rows.customer_id = current_segments.customer_id
            and open_rows.segment_id = current_segments.segment_id
),

closed_now as (
    select
        open_rows.customer_id,
        open_rows.segment_id,
        open_rows.segment_name,
        open_rows.valid_from_run_id,
        this_run.run_id as valid_to_run_id,
        open_rows.valid_from,
        this_run.as_of_date as valid_to
    from open_rows
    cross join this_run
    left join current_segments
        on
            open_rows.customer_id = current_segments.customer_id
            and open_rows.segment_id = current_segments.segment_id
    where current_segments.customer_id is null
),

opened_now as (
    select
        current_segments.customer_id,
        current_segments.segment_id,
        current_segments.segment_name,
        this_run.run_id as valid_from_run_id,
        cast(null as integer) as valid_to_run_id,
        this_run.as_of_date as valid_from,
        cast(null as date) as valid_to
    from current_segments
    cross join this_run
    left join open_rows
        on
            current_segments.customer_id = open_rows.customer_id
            and current_segments.segment_id = open_rows.segment_id
    where open_rows.customer_id is null
),

unioned as (
    select * from closed_rows
    union all
    select * from kept_open
    union all
    select * from closed_now
    union all
    select * from opened_now
)

select {{ contract_columns() }}
from unioned
