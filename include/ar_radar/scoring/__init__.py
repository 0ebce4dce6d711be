"""Payment-risk scoring: features from the warehouse, the model, the prior, backtest, registry and scores."""
