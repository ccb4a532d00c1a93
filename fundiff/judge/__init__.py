"""The MNIST judge: a small CNN trained on the training split, which scores Part B samples and Part A outputs."""
