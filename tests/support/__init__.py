"""What the tests share: a float64 reference, problem drawing, gradients per backend, script runs."""
