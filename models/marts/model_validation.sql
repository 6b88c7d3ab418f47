{#- Columns, types and docs: the contract in _marts__models.yml. -#}
with

validation as (
    {{ ml_output(ref('ml_segmentation_run'), 'model_validation') }}
)

select {{ contract_columns() }}
from validation
