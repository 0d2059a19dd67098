"""Adaptive signal control: phase model, controllers, gridlock guard, SUMO bridge."""
