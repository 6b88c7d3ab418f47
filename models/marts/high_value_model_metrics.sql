with

metrics as (
    select * from {{ ref('ml_high_value_metrics') }}
)

select
    cast(fold as {{ dbt.type_string() }}) as fold,
    cast(roc_auc as {{ type_double() }}) as roc_auc,
    cast(pr_auc as {{ type_double() }}) as pr_auc,
    cast(n_rows as bigint) as n_test,
    cast(n_train as bigint) as n_train,
    cast(n_positive as bigint) as n_positive,
    cast(label_definition as {{ dbt.type_string() }}) as label_definition,
    cast(n_training_customers as bigint) as n_training_customers,
    cast(positive_count as bigint) as positive_count,
    cast(top_share as {{ type_double() }}) as top_share,
    cast(probability_threshold as {{ type_double() }}) as probability_threshold,
    cast(note as {{ dbt.type_string() }}) as note
from metrics
