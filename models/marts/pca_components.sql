{#- One row per principal component and feature: the loading, and the component's
    share of variance (repeated on each of its rows for easy filtering in BI tools).
    Columns, types and docs: the contract in _marts__models.yml. -#}
with

loadings as (
    {{ ml_output(ref('ml_segmentation_run'), 'pca_loadings') }}
),

explained_variance as (
    {{ ml_output(ref('ml_segmentation_run'), 'pca_explained_variance') }}
),

joined as (
    select
        loadings.component,
        loadings.feature,
        loadings.loading,
        explained_variance.explained_variance_ratio,
        explained_variance.cumulative as cumulative_explained_variance
    from loadings
    inner join explained_variance
        on loadings.component = explained_variance.component
)

select {{ contract_columns() }}
from joined
