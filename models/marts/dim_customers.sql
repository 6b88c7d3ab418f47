{#- One row per customer with at least one purchase line before as_of: every
    feature, the RFM scores and segment. Column definitions: _marts__models.yml. -#}
with

features as (
    select * from {{ ref('int_customer_features_by_snapshot') }}
    where snapshot_name = 'current'
),

rfm as (
    select * from {{ ref('int_customers_rfm_scored') }}
),

segments as (
    {{ ml_output(ref('ml_segmentation_run'), 'customer_segments') }}
),

stable_segments as (
    select * from {{ ref('segment_assignments') }}
),

segment_names as (
    select * from {{ ref('segment_matches') }}
    where match_status != 'retired'
),

high_value as (
    {{ ml_output(ref('ml_high_value_run'), 'scores') }}
),

clv as (
    select * from {{ ref('customer_lifetime_value') }}
),

final as (
    select
        -- ids
        features.customer_id,

        -- dates
        features.snapshot_date as as_of_date,

        -- purchases
        features.recency_days,
        features.frequency,
        features.gross_revenue,
        features.returned_revenue,
        features.monetary,
        features.avg_order_value,
        features.tenure_days,
        features.avg_days_between_orders,
        features.distinct_categories,
        features.return_rate,

        -- web and marketing engagement
        features.web_sessions_90d,
        features.web_events_90d,
        features.add_to_cart_90d,
        features.checkouts_90d,
        features.cart_to_purchase_rate,
        features.emails_sent,
        features.email_open_rate,
        features.email_click_rate,
        features.has_unsubscribed,
        features.days_since_last_engagement,
        features.engagement_score,

        -- demographics
        features.age,
        features.gender,
        features.country,

        -- rfm
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        rfm.rfm_cell,
        rfm.rfm_segment,

        -- machine-learned segments: the stable id and name, decided by the lifecycle
        -- matching (segment_assignments, segment_matches); a run without fitted centres
        -- has no match rows, and there the stable id is the fit's id, so its name is too
        stable_segments.stable_segment_id as segment_id,
        coalesce(
            cast(segment_names.segment_name as {{ dbt.type_string() }}),
            cast(segments.segment_name as {{ dbt.type_string() }})
        ) as segment_name,
        cast(segments.kmeans_segment_id as integer) as kmeans_segment_id,
        cast(segments.hierarchical_segment_id as integer) as hierarchical_segment_id,
        cast(segments.dbscan_cluster_id as integer) as dbscan_cluster_id,
        cast(segments.is_outlier as boolean) as is_outlier,
        cast(segments.pca_1 as {{ type_double() }}) as pca_1,
        cast(segments.pca_2 as {{ type_double() }}) as pca_2,
        cast(segments.pca_3 as {{ type_double() }}) as pca_3,

        -- high-value prediction
        cast(high_value.high_value_probability as {{ type_double() }}) as high_value_probability,
        cast(high_value.is_predicted_high_value as boolean) as is_predicted_high_value,

        -- customer lifetime value (BG/NBD + Gamma-Gamma)
        clv.probability_alive,
        clv.expected_purchases,
        clv.expected_average_spend,
        clv.lifetime_value,

        -- timestamps
        features.first_purchase_at,
        features.last_purchase_at,
        features.signed_up_at

    from features
    left join rfm
        on features.customer_id = rfm.customer_id
    left join segments
        on features.customer_id = segments.customer_id
    left join stable_segments
        on features.customer_id = stable_segments.customer_id
    left join segment_names
        on stable_segments.stable_segment_id = segment_names.stable_segment_id
    left join high_value
        on features.customer_id = high_value.customer_id
    left join clv
        on features.customer_id = clv.customer_id
)

select * from final
