"""Train the RandomForest high-value model on features as of the training cutoff with
the label from the horizon after it, cross-validate it, and score every customer on
features as of as_of; one column per output, read by the marts (README.md beside this)."""

from customer_chunks.ml.pipeline import run_high_value
from customer_chunks.ml.settings import HighValueSettings
from customer_chunks.ml_tables import current_features, log, pack


def model(dbt, session):
    dbt.config(materialized="table")
    training = dbt.ref("int_customers_high_value_training").order("customer_id").df()
    # dbt hands a Python model only the config keys it calls get() on, written out
    settings = HighValueSettings.from_config(
        {
            "high_value_top_share": dbt.config.get("high_value_top_share"),
            "high_value_trees": dbt.config.get("high_value_trees"),
            "random_state": dbt.config.get("random_state"),
        }
    )
    frames = run_high_value(
        training,
        current_features(dbt.ref("int_customer_features_by_snapshot")),
        settings,
        log=log,
    )
    return pack(frames)
