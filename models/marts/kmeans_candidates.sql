with

candidates as (
    select * from {{ ref('ml_kmeans_candidates') }}
)

select
    cast(k as integer) as k,
    cast(inertia as {{ type_double() }}) as inertia,
    cast(silhouette as {{ type_double() }}) as silhouette,
    cast(silhouette_sample_size as bigint) as silhouette_sample_size,
    cast(davies_bouldin as {{ type_double() }}) as davies_bouldin,
    cast(calinski_harabasz as {{ type_double() }}) as calinski_harabasz,
    cast(elbow_distance as {{ type_double() }}) as elbow_distance,
    cast(is_elbow as boolean) as is_elbow,
    cast(mean_rank as {{ type_double() }}) as mean_rank,
    cast(hierarchical_silhouette as {{ type_double() }}) as hierarchical_silhouette,
    cast(agreement as {{ type_double() }}) as agreement,
    cast(is_chosen as boolean) as is_chosen,
    cast(fit_sample_size as bigint) as fit_sample_size,
    cast(note as {{ dbt.type_string() }}) as note
from candidates
