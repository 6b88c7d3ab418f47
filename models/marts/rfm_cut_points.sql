with

cut_points as (
    select * from {{ ref('int_rfm_cut_points') }}
)

select
    metric,
    cut_number,
    quantile,
    cut_value
from cut_points
