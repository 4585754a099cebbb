"""HTTP function blueprints: thin adapters over the ciconnector package."""
