"""Figures with deterministic bytes (same tensors -> same PNG/GIF bytes, so `dvc repro -f` changes nothing).

One module per kind: ``grids`` (every image grid: labelled, titled or plain), ``gifs`` (sampling animations),
``curves`` (the DVCLive log reader and the loss plots), ``filters`` (the one Gaussian blur and its high-pass), ``mpl``
(matplotlib without pyplot state or date stamps).
"""
