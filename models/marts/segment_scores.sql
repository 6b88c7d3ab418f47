{#- Scoring in SQL: every current customer assigned to the nearest stored centre, with
    the stored preprocessing and no Python. Columns, types and docs: the contract in
    _lifecycle__models.yml.

    Per segmentation feature: x = value, null -> impute_value; log1p(max(x, 0)) when
    is_log_transformed; (x - center) / scale, limited to [-clip, clip]; then the squared
    Euclidean distance to each centre; the nearest wins (ties: the lower id), as in
    customer_chunks.ml.lifecycle.nearest_centre. segment_scores_touched filters this
    model.

    One row per customer throughout, a column per segmentation feature (numbered in the
    order of segmentation_features): the stored parameters and centres are pivoted to
    that shape (macro pivot_by_name), and the distance adds the features' squared
    differences in that fixed order, so `score` and `score --all` agree to the last bit
    (tests/test_append.py). A feature with no stored parameter or centre scales to null
    and adds nothing to the distance. -#}
{%- set names = var('segmentation_features') %}
{%- set extra_names = [] %}
{%- for name in names if name not in customer_chunks.customer_feature_columns() %}
    {%- do extra_names.append(name) %}
{%- endfor %}
with

features as (
    select * from {{ ref('int_customer_features_by_snapshot') }}
    where snapshot_name = 'current'
),

parameters as (
    select * from {{ ref('preprocessing_parameters') }}
    where model_name = 'segmentation' and is_used
),

centroids as (
    select * from {{ ref('segment_centroids') }}
),

parameters_wide as (
    {{ customer_chunks.pivot_by_name('parameters', 'model_name', 'feature', names, [
        ('impute_value', 'impute'),
        ('case when is_log_transformed then 1 else 0 end', 'is_log'),
        ('center', 'center'),
        ('scale', 'scale'),
        ('clip', 'clip'),
    ]) }}
),

centroids_wide as (
    {{ customer_chunks.pivot_by_name(
        'centroids', 'stable_segment_id', 'feature', names, [('center_scaled', 'centroid')]
    ) }}
),

{%- if extra_names %}

{#- a name that is not a contract feature is an extra column of a customer_features
    input (long rows in stg_customer_data__customer_extra_features) #}
extra_features as (
    select * from {{ ref('stg_customer_data__customer_extra_features') }}
),

extra_wide as (
    {{ customer_chunks.pivot_by_name(
        'extra_features', 'customer_id', 'feature_name', names, [('feature_value', 'extra')]
    ) }}
),
{%- endif %}

feature_values as (
    select
        features.customer_id,
        {%- for name in names %}
            {%- if name in extra_names %}
                extra_wide.extra_{{ loop.index }} as value_{{ loop.index }}
            {%- else %}
                cast(features.{{ name }} as {{ type_double() }}) as value_{{ loop.index }}
            {%- endif %}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from features
    {%- if extra_names %}
        left join extra_wide
            on features.customer_id = extra_wide.customer_id
    {%- endif %}
),

{# the one join with the parameters: each customer's imputed (and log-transformed)
    values, beside the centre, scale and clip that scale them #}
imputed as (
    select
        feature_values.customer_id,
        {%- for name in names %}
            {%- set value -%}
                coalesce(feature_values.value_{{ loop.index }}, parameters_wide.impute_{{ loop.index }})
            {%- endset %}
            case
                when parameters_wide.is_log_{{ loop.index }} = 1
                    then ln(1 + greatest({{ value }}, 0))
                else {{ value }}
            end as prepared_{{ loop.index }},
            parameters_wide.center_{{ loop.index }},
            parameters_wide.scale_{{ loop.index }},
            parameters_wide.clip_{{ loop.index }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from feature_values
    cross join parameters_wide
),

scaled as (
    select
        customer_id,
        {%- for name in names %}
            {%- set z -%}
                (prepared_{{ loop.index }} - center_{{ loop.index }}) / scale_{{ loop.index }}
            {%- endset %}
            case
                when clip_{{ loop.index }} is null then {{ z }}
                else least(greatest({{ z }}, -clip_{{ loop.index }}), clip_{{ loop.index }})
            end as feature_{{ loop.index }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from imputed
),

distances as (
    select
        scaled.customer_id,
        centroids_wide.stable_segment_id,
        {%- for name in names %}
            {%- set difference -%}
                (scaled.feature_{{ loop.index }} - centroids_wide.centroid_{{ loop.index }})
            {%- endset %}
            coalesce({{ difference }} * {{ difference }}, 0){% if not loop.last %} +{% endif %}
        {%- endfor %}
            as squared_distance
    from scaled
    cross join centroids_wide
),

ranked as (
    select
        customer_id,
        stable_segment_id,
        squared_distance,
        row_number() over (
            partition by customer_id
            order by squared_distance, stable_segment_id
        ) as distance_rank
    from distances
)

select {{ contract_columns() }}
from ranked
where distance_rank = 1
