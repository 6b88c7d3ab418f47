{% macro nearest_centroid(features) -%}
    {#- Scoring in SQL: CTEs that assign each customer of the CTE `features` (current
        features) to the nearest centre of segment_centroids after the stored
        preprocessing, and the final select of the calling model's contract columns.
        Per segmentation feature: x = value, null -> impute_value; log1p(max(x, 0)) when
        is_log_transformed; (x - center) / scale, limited to [-clip, clip]; then the
        squared Euclidean distance to each centre; the nearest wins (ties: the lower
        id), as in customer_chunks.ml.lifecycle.nearest_centre. Used by segment_scores
        (segment_scores_touched filters it). -#}
parameters as (
    select * from {{ ref('preprocessing_parameters') }}
    where model_name = 'segmentation' and is_used
),

centroids as (
    select * from {{ ref('segment_centroids') }}
),

extra_features as (
    select * from {{ ref('stg_customer_data__customer_extra_features') }}
),

feature_values as (
    {#- a name that is not a contract feature is an extra column of a customer_features
        input (long rows; none for order-line input) -#}
    {%- set extra_names = [] %}
    {%- for feature in var('segmentation_features') %}
        {%- if feature in customer_chunks.customer_feature_columns() %}
            select
                customer_id,
                '{{ feature }}' as feature,
                cast({{ feature }} as {{ type_double() }}) as feature_value
            from {{ features }}
            union all
        {%- else %}
            {%- do extra_names.append("'" ~ feature ~ "'") %}
        {%- endif %}
    {%- endfor %}
    select
        {{ features }}.customer_id,
        extra_features.feature_name as feature,
        extra_features.feature_value
    from {{ features }}
    inner join extra_features
        on {{ features }}.customer_id = extra_features.customer_id
    where extra_features.feature_name in ({{ (extra_names or ["''"]) | join(', ') }})
),

imputed as (
    select
        feature_values.customer_id,
        feature_values.feature,
        parameters.center,
        parameters.scale,
        parameters.clip,
        case
            when parameters.is_log_transformed
                then ln(1 + greatest(coalesce(feature_values.feature_value, parameters.impute_value), 0))
            else coalesce(feature_values.feature_value, parameters.impute_value)
        end as prepared_value
    from feature_values
    inner join parameters
        on feature_values.feature = parameters.feature
),

scaled as (
    select
        customer_id,
        feature,
        case
            when clip is null then (prepared_value - center) / scale
            else least(greatest((prepared_value - center) / scale, -clip), clip)
        end as scaled_value
    from imputed
),

{#- One row per customer and one per centre, a column per segmentation feature (in the
    order of segmentation_features; null when the customer or centre has no row for
    it, which adds nothing to the distance). The distance then adds the features'
    squared differences in that fixed order: a sum() over long rows adds them in an
    order that depends on the threads and the other rows, which moved the last bit of a
    distance between `score` and `score --all` (tests/test_append.py); and it is one
    row per customer and centre instead of one per customer, centre and feature. -#}
{%- set features = var('segmentation_features') %}
scaled_wide as (
    select
        customer_id,
        {%- for feature in features %}
            max(case when feature = '{{ feature }}' then scaled_value end) as feature_{{ loop.index }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from scaled
    group by customer_id
),

centroids_wide as (
    select
        stable_segment_id,
        {%- for feature in features %}
            max(case when feature = '{{ feature }}' then center_scaled end) as center_{{ loop.index }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from centroids
    group by stable_segment_id
),

distances as (
    select
        scaled_wide.customer_id,
        centroids_wide.stable_segment_id,
        {%- for feature in features %}
            coalesce(
                (scaled_wide.feature_{{ loop.index }} - centroids_wide.center_{{ loop.index }})
                * (scaled_wide.feature_{{ loop.index }} - centroids_wide.center_{{ loop.index }}),
                0
            ){% if not loop.last %} +{% endif %}
        {%- endfor %}
        as squared_distance
    from scaled_wide
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

{%- endmacro %}
