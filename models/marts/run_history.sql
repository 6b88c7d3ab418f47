{#- One row per published run: the earlier rows (history) and this run's. finished_at
    and stage_seconds of this run are filled by `customer-chunks run` after dbt passes,
    just before it publishes (dbt cannot know them). Columns, types and docs: the
    contract in _lifecycle__models.yml. -#}
with

previous as (
    select * from {{ ref('stg_history__run_history') }}
),

this_run as (
    select * from {{ ref('int_lifecycle_current_run') }}
),

validation as (
    select * from {{ ref('model_validation') }}
),

assignments as (
    select * from {{ ref('segment_assignments') }}
),

matches as (
    select * from {{ ref('segment_matches') }}
),

drift as (
    select * from {{ ref('drift') }}
),

chosen as (
    select
        algorithm as chosen_algorithm,
        n_clusters as chosen_k,
        silhouette,
        davies_bouldin,
        stability
    from validation
    where is_chosen
),

customer_counts as (
    select count(*) as n_customers
    from assignments
),

match_counts as (
    select
        sum(case when match_status in ('matched', 'kept') then 1 else 0 end) as segments_matched,
        sum(case when match_status = 'new' then 1 else 0 end) as segments_new,
        sum(case when match_status = 'retired' then 1 else 0 end) as segments_retired
    from matches
),

drift_summary as (
    select
        max(psi) as max_psi,
        max(case when recommends_refit then 1 else 0 end) = 1 as is_refit_recommended
    from drift
),

this_row as (
    select
        this_run.run_id,
        this_run.started_at,
        cast(null as timestamp) as finished_at,
        this_run.as_of_date as as_of,
        this_run.inputs,
        this_run.run_vars,
        this_run.library_versions,
        chosen.chosen_algorithm,
        chosen.chosen_k,
        chosen.silhouette,
        chosen.davies_bouldin,
        chosen.stability,
        customer_counts.n_customers,
        match_counts.segments_matched,
        match_counts.segments_new,
        match_counts.segments_retired,
        drift_summary.max_psi,
        coalesce(drift_summary.is_refit_recommended, false) as is_refit_recommended,
        cast(null as {{ dbt.type_string() }}) as stage_seconds
    from this_run
    cross join customer_counts
    cross join match_counts
    cross join drift_summary
    left join chosen on 1 = 1
),

unioned as (
    select * from previous
    union all
    select * from this_row
)

select {{ contract_columns() }}
from unioned
