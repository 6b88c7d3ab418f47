with

roc as (
    select * from {{ ref('ml_high_value_roc_curve') }}
)

select
    cast(fpr as {{ type_double() }}) as fpr,
    cast(tpr as {{ type_double() }}) as tpr,
    cast(threshold as {{ type_double() }}) as threshold
from roc
