with

importances as (
    select * from {{ ref('ml_feature_importances') }}
)

select
    cast(feature as {{ dbt.type_string() }}) as feature,
    cast(importance_mean as {{ type_double() }}) as importance_mean,
    cast(importance_std as {{ type_double() }}) as importance_std,
    cast(impurity_importance as {{ type_double() }}) as impurity_importance,
    cast(rank as integer) as rank
from importances
