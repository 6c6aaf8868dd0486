"""photoncal.kernels: the algorithms on plain numpy arrays and scalars.

No data models, no files, no progress logging. One module per algorithm
family; hot loops are threaded numba functions.
"""
