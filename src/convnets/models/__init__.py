"""Models: option schemas (`options`, no torch), builders (one module each), checkpoints.

Import what you need from its module: this package imports nothing, so that validating
params.yaml or building one model does not load the others.
"""
