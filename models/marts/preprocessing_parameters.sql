{#- The fitted preprocessing of both models, so new customers can be scored the same
    way: per feature, used or dropped (and why), imputation value, log transform, centre
    and scale. x_scaled = (log1p(max(x, 0)) if is_log_transformed else x, with nulls as
    impute_value, minus center) / scale, then limited to [-clip, clip]. -#}
with

segmentation as (
    select * from {{ ref('ml_segmentation_preprocessing') }}
),

high_value as (
    select * from {{ ref('ml_high_value_preprocessing') }}
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

select
    cast(model_name as {{ dbt.type_string() }}) as model_name,
    cast(feature as {{ dbt.type_string() }}) as feature,
    cast(is_used as boolean) as is_used,
    cast(drop_reason as {{ dbt.type_string() }}) as drop_reason,
    cast(impute_value as {{ type_double() }}) as impute_value,
    cast(is_log_transformed as boolean) as is_log_transformed,
    cast(center as {{ type_double() }}) as center,
    cast(scale as {{ type_double() }}) as scale,
    cast(clip as {{ type_double() }}) as clip
from unioned
