"""photoncal.associations"""
