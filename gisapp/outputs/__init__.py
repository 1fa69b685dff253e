"""The only writers of the stable output files: GPX, kpis.json, GeoJSON, CSV, file names.

Every door (CLI, web, Python) writes a result through these, so a file has one format
whichever door produced it.
"""
