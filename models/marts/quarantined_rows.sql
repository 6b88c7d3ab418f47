with

quarantined as (
    select * from {{ ref('int_quarantined_rows_unioned') }}
)

select
    table_name,
    source_row_id,
    source_line_number,
    quarantine_reason,
    source_values
from quarantined
