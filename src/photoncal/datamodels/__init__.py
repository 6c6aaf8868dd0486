"""photoncal.datamodels"""
