"""Shared fixtures: real Azurite, the CI simulator over HTTPS, the local Functions host, the app."""
pytest_plugins = ["tests.fixtures.azurite", "tests.fixtures.simulator", "tests.fixtures.funchost",
                  "tests.fixtures.app", "tests.fixtures.stores"]
