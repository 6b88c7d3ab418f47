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

        -- timestamps
        features.first_purchase_at,
        features.last_purchase_at,
        features.signed_up_at

    from features
    left join rfm
        on features.customer_id = rfm.customer_id
)

select * from final
