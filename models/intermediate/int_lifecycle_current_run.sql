{#- One row: the run being built. run_id and the audit facts come from `customer-chunks
    run` (history.current_run); under a bare `dbt build` the id is the next after the
    last published run and the audit facts are null. -#}
with

current_run as (
    select * from {{ ref('stg_history__current_run') }}
),

previous_runs as (
    select * from {{ ref('stg_history__run_history') }}
),

run_parameters as (
    select * from {{ ref('int_run_parameters') }}
),

last_run as (
    select max(run_id) as last_run_id
    from previous_runs
)

select
    coalesce(current_run.run_id, coalesce(last_run.last_run_id, 0) + 1) as run_id,
    last_run.last_run_id as previous_run_id,
    current_run.started_at,
    current_run.inputs,
    current_run.run_vars,
    current_run.library_versions,
    run_parameters.as_of_date
from run_parameters
cross join last_run
left join current_run on 1 = 1
