"""Simulation: log replay and the closed-loop simulator."""
