-- SQL scoring (segment_scores) must give every customer the same nearest centre as the
-- Python assignment (segment_assignments.nearest_stable_segment_id). Rows returned fail.
select
    assignments.customer_id,
    assignments.nearest_stable_segment_id,
    scores.stable_segment_id
from {{ ref('segment_assignments') }} as assignments
left join {{ ref('segment_scores') }} as scores
    on assignments.customer_id = scores.customer_id
where
    scores.customer_id is null
    or scores.stable_segment_id != assignments.nearest_stable_segment_id
