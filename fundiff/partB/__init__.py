"""Part B: diffusion UNets trained from scratch on MNIST (docs/course.md, Part B): configuration, training, checkpoints, sampling and the results of each model."""
