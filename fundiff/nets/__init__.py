"""The Part B networks: the course's blocks, the three UNets, and BatchNorm folding for sampling."""
