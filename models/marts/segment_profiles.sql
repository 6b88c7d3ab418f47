{#- Columns, types and docs: the contract in _marts__models.yml. -#}
with

profiles as (
    {{ ml_output(ref('ml_segmentation_run'), 'segment_profiles') }}
)

select {{ contract_columns() }}
from profiles
