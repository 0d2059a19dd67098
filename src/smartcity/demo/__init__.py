"""The demo city: generated data for every module, seeded through the engines' contracts."""
