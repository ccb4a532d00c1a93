"""Diffusion math shared by Parts A and B, with no I/O: schedules and timestep lists, noising, the reverse step and loop, classifier-free guidance."""
