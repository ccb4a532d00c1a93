"""Part A's experiments, one module per DVC stage `partA@<name>` (see fundiff.partA.registry)."""
