"""photoncal.roman"""
