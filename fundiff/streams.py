"""The random streams of the results stages: offsets to the shared ``seed``, one per thing drawn, so changing how one
figure is drawn never changes another's noise."""

NOISE_TEST = 1  # Part B 1: the noise added to the test digits
REAL_SUBSET = 2  # the order in which real training digits are drawn for FID floors (fundiff.judge.reading.RealDigits)
FULL = 11  # Part B 2: the full (Algorithm 2) sampler's samples
FAST = 12  # Part B 2: the fast sampler's samples
SNAPSHOT = 100  # + epoch: the per-snapshot grids
SWEEP = 10_000  # + i: the i-th point of the guidance sweep
PURE_NOISE = 13  # Part B 1.2.3 (flow edition): the noise fed to the pure-noise UNet
