{#- Columns, types and docs: the contract in _marts__models.yml. The model calls the
    rows of a held-out fold n_rows; the mart names them n_test beside n_train. -#}
with

metrics as (
    {{ ml_output(ref('ml_high_value_run'), 'metrics') }}
),

renamed as (
    select
        *,
        n_rows as n_test
    from metrics
)

select {{ contract_columns() }}
from renamed
