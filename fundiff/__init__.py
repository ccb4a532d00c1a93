"""fundiff: "Fun With Diffusion Models" as a library (Part A algorithms, Part B UNets and training)."""

__version__ = "0.1.0"
