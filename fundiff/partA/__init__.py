"""Part A of the assignment (docs/course.md, A 0 and 1.1-1.9): algorithms written once over the backend interface (fundiff.partA.backends), one experiment module per DVC stage."""
