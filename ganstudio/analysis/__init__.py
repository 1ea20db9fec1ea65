"""Analyses without torch: target regions and their share of a heat map, and the images shown."""
