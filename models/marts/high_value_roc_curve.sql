{#- Columns, types and docs: the contract in _marts__models.yml. -#}
with

roc as (
    {{ ml_output(ref('ml_high_value_run'), 'roc_curve') }}
)

select {{ contract_columns() }}
from roc
