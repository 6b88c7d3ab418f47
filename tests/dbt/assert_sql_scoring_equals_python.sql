-- SQL scoring (segment_scores) must give every customer the same nearest centre as the
-- Python assignment (segment_assignments.nearest_stable_segment_id). Rows returned fail.
-- A run without fitted centres (a fallback) has no nearest centre on either side; with
-- centres, every customer must have one.
with

centres as (
    select count(*) as n_centres from {{ ref('segment_centroids') }}
)

select
    assignments.customer_id,
    assignments.nearest_stable_segment_id,
    scores.stable_segment_id
from {{ ref('segment_assignments') }} as assignments
cross join centres
left join {{ ref('segment_scores') }} as scores
    on assignments.customer_id = scores.customer_id
where
    (assignments.nearest_stable_segment_id is null and centres.n_centres > 0)
    or (
        assignments.nearest_stable_segment_id is not null
        and (
            scores.customer_id is null
            or scores.stable_segment_id != assignments.nearest_stable_segment_id
        )
    )
