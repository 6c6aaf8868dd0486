"""photoncal.kernels"""
