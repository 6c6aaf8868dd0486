"""photoncal.stpipe"""
