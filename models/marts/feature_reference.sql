{#- Columns, types and docs: the contract in _lifecycle__models.yml. -#}
with

rows as (
    {{ ml_output(ref('ml_segmentation_run'), 'feature_reference') }}
)

select {{ contract_columns() }}
from rows
