{#- The Ward merges as scipy linkage-matrix rows: step i merges left_child and
    right_child (ids below the number of leaves are micro-clusters; id n_leaves + i is
    the cluster made at step i) at `distance`. scipy.cluster.hierarchy.dendrogram draws
    it from (left_child, right_child, distance, n_leaves) in step order. Columns, types
    and docs: the contract in _marts__models.yml. -#}
with

linkage as (
    {{ ml_output(ref('ml_segmentation_run'), 'hierarchy_linkage') }}
),

leaves as (
    select count(*) as leaf_count from linkage
    where is_leaf
),

merge_steps as (
    select
        linkage.*,
        linkage.node_id - leaves.leaf_count as step
    from linkage
    cross join leaves
    where not linkage.is_leaf
)

select {{ contract_columns() }}
from merge_steps
