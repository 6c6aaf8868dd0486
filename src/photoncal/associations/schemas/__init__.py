"""JSON schemas of level 2 and level 3 associations."""
