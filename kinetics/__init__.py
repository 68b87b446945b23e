"""Kinetics, the book: the real cost of test-time scaling.

Submodules (import what you need; importing `kinetics` itself stays light):
hardware, models, cost, traces, metrics, frontier, plots, engine (torch), kernels (triton).
"""
from kinetics.errors import InputError

__all__ = ["InputError"]
__version__ = "0.1.0"
