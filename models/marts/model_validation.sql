with

validation as (
    select * from {{ ref('ml_model_validation') }}
)

select
    cast(algorithm as {{ dbt.type_string() }}) as algorithm,
    cast(parameters as {{ dbt.type_string() }}) as parameters,
    cast(n_clusters as integer) as n_clusters,
    cast(silhouette as {{ type_double() }}) as silhouette,
    cast(silhouette_sample_size as bigint) as silhouette_sample_size,
    cast(davies_bouldin as {{ type_double() }}) as davies_bouldin,
    cast(calinski_harabasz as {{ type_double() }}) as calinski_harabasz,
    cast(stability as {{ type_double() }}) as stability,
    cast(is_chosen as boolean) as is_chosen,
    cast(note as {{ dbt.type_string() }}) as note
from validation
