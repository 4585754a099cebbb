"""Timer and queue function blueprints: thin adapters over the ciconnector package."""
