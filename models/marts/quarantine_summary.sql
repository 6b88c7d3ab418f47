with

quarantined as (
    select * from {{ ref('int_quarantined_rows_unioned') }}
)

select
    table_name,
    quarantine_reason,
    count(*) as row_count
from quarantined
group by 1, 2
