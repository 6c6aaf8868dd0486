"""photoncal.pipeline"""
