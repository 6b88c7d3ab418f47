{#- The Ward merges as scipy linkage-matrix rows: step i merges left_child and
    right_child (ids below the number of leaves are micro-clusters; id n_leaves + i is
    the cluster made at step i) at `distance`. scipy.cluster.hierarchy.dendrogram draws
    it from (left_child, right_child, distance, n_leaves) in step order. -#}
with

linkage as (
    select * from {{ ref('ml_hierarchy_linkage') }}
),

leaves as (
    select count(*) as n_leaves from linkage
    where is_leaf
)

select
    cast(linkage.node_id - leaves.n_leaves as integer) as step,
    cast(linkage.node_id as integer) as node_id,
    cast(linkage.left_child as integer) as left_child,
    cast(linkage.right_child as integer) as right_child,
    cast(linkage.distance as {{ type_double() }}) as distance,
    cast(linkage.n_leaves as integer) as n_leaves,
    cast(linkage.n_members as bigint) as n_members
from linkage
cross join leaves
where not linkage.is_leaf
