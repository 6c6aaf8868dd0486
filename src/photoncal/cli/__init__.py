"""photoncal.cli"""
