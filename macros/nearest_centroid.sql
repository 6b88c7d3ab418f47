{% macro nearest_centroid(features) -%}
    {#- Scoring in SQL: CTEs that assign each customer of the CTE `features` (current
        features) to the nearest centre of segment_centroids after the stored
        preprocessing, and the final select of the calling model's contract columns.
        Per segmentation feature: x = value, null -> impute_value; log1p(max(x, 0)) when
        is_log_transformed; (x - center) / scale, limited to [-clip, clip]; then the
        squared Euclidean distance to each centre; the nearest wins (ties: the lower
        id), as in customer_chunks.ml.lifecycle.nearest_centre. Used by segment_scores
        (every customer) and segment_scores_touched (the customers recomputed). -#}
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

distances as (
    select
        scaled.customer_id,
        centroids.stable_segment_id,
        sum(
            (scaled.scaled_value - centroids.center_scaled)
            * (scaled.scaled_value - centroids.center_scaled)
        ) as squared_distance
    from scaled
    inner join centroids
        on scaled.feature = centroids.feature
    group by 1, 2
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
