{#- The fitted preprocessing of both models, so new customers can be scored the same
    way: per feature, used or dropped (and why), imputation value, log transform, centre
    and scale. x_scaled = (log1p(max(x, 0)) if is_log_transformed else x, with nulls as
    impute_value, minus center) / scale, then limited to [-clip, clip]. Columns, types
    and docs: the contract in _marts__models.yml. -#}
with

segmentation as (
    {{ ml_output(ref('ml_segmentation_run'), 'preprocessing') }}
),

high_value as (
    {{ ml_output(ref('ml_high_value_run'), 'preprocessing') }}
),

unioned as (
    select
        'segmentation' as model_name,
        *
    from segmentation
    union all
    select
        'high_value' as model_name,
        *
    from high_value
)

select {{ contract_columns() }}
from unioned
