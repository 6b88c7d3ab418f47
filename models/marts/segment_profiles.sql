with

profiles as (
    select * from {{ ref('ml_segment_profiles') }}
)

select
    cast(algorithm as {{ dbt.type_string() }}) as algorithm,
    cast(segment_id as integer) as segment_id,
    cast(segment_name as {{ dbt.type_string() }}) as segment_name,
    cast(description as {{ dbt.type_string() }}) as description,
    cast(suggested_action as {{ dbt.type_string() }}) as suggested_action,
    cast(n_customers as bigint) as n_customers,
    cast(share as {{ type_double() }}) as share,
    cast(revenue_share as {{ type_double() }}) as revenue_share,
    cast(mean_recency_days as {{ type_double() }}) as mean_recency_days,
    cast(mean_frequency as {{ type_double() }}) as mean_frequency,
    cast(mean_gross_revenue as {{ type_double() }}) as mean_gross_revenue,
    cast(mean_returned_revenue as {{ type_double() }}) as mean_returned_revenue,
    cast(mean_monetary as {{ type_double() }}) as mean_monetary,
    cast(mean_avg_order_value as {{ type_double() }}) as mean_avg_order_value,
    cast(mean_tenure_days as {{ type_double() }}) as mean_tenure_days,
    cast(mean_avg_days_between_orders as {{ type_double() }}) as mean_avg_days_between_orders,
    cast(mean_distinct_categories as {{ type_double() }}) as mean_distinct_categories,
    cast(mean_return_rate as {{ type_double() }}) as mean_return_rate,
    cast(mean_web_sessions_90d as {{ type_double() }}) as mean_web_sessions_90d,
    cast(mean_web_events_90d as {{ type_double() }}) as mean_web_events_90d,
    cast(mean_add_to_cart_90d as {{ type_double() }}) as mean_add_to_cart_90d,
    cast(mean_checkouts_90d as {{ type_double() }}) as mean_checkouts_90d,
    cast(mean_cart_to_purchase_rate as {{ type_double() }}) as mean_cart_to_purchase_rate,
    cast(mean_email_open_rate as {{ type_double() }}) as mean_email_open_rate,
    cast(mean_email_click_rate as {{ type_double() }}) as mean_email_click_rate,
    cast(mean_days_since_last_engagement as {{ type_double() }}) as mean_days_since_last_engagement,
    cast(mean_engagement_score as {{ type_double() }}) as mean_engagement_score,
    cast(mean_age as {{ type_double() }}) as mean_age
from profiles
