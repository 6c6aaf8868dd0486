"""Roman-specific kernels (plain arrays in, arrays out)."""
