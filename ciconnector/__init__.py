"""Customer Insights connector backend: domain logic with no Azure Functions dependency."""
