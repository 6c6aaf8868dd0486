"""photoncal.steps"""
