"""photoncal.sim"""
