{#- Columns, types and docs: the contract in _marts__models.yml. -#}
with

candidates as (
    {{ ml_output(ref('ml_segmentation_run'), 'kmeans_candidates') }}
)

select {{ contract_columns() }}
from candidates
