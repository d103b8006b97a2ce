"""Shared fixtures: each emulator's fixtures live in their own module, loaded here as plugins."""

pytest_plugins = [
    "fixtures_kubernetes",
    "fixtures_aws",
]
