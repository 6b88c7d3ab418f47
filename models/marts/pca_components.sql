{#- One row per principal component and feature: the loading, and the component's
    share of variance (repeated on each of its rows for easy filtering in BI tools). -#}
with

loadings as (
    select * from {{ ref('ml_pca_loadings') }}
),

explained_variance as (
    select * from {{ ref('ml_pca_explained_variance') }}
)

select
    cast(loadings.component as integer) as component,
    cast(loadings.feature as {{ dbt.type_string() }}) as feature,
    cast(loadings.loading as {{ type_double() }}) as loading,
    cast(explained_variance.explained_variance_ratio as {{ type_double() }}) as explained_variance_ratio,
    cast(explained_variance.cumulative as {{ type_double() }}) as cumulative_explained_variance
from loadings
inner join explained_variance
    on loadings.component = explained_variance.component
