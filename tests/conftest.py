"""Shared fixtures: real Azurite, the CI simulator over HTTPS and the local Functions host."""
pytest_plugins = ["tests.fixtures.azurite", "tests.fixtures.simulator", "tests.fixtures.funchost"]
