{#- Columns, types and docs: the contract in _marts__models.yml. -#}
with

importances as (
    {{ ml_output(ref('ml_high_value_run'), 'feature_importances') }}
)

select {{ contract_columns() }}
from importances
