-- customer_segment_history: per customer, at most one open row and no interval that
-- starts before the previous one ended. Rows returned fail.
with

ordered as (
    select
        customer_id,
        valid_from_run_id,
        valid_to_run_id,
        lag(valid_to_run_id) over (
            partition by customer_id order by valid_from_run_id
        ) as previous_valid_to_run_id,
        lag(valid_from_run_id) over (
            partition by customer_id order by valid_from_run_id
        ) as previous_valid_from_run_id
    from {{ ref('customer_segment_history') }}
)

select *
from ordered
where
    previous_valid_from_run_id is not null
    and (previous_valid_to_run_id is null or previous_valid_to_run_id > valid_from_run_id)
