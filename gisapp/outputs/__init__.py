"""The only writers of the stable output files: GPX, kpis.json, GeoJSON, CSV, file names.

Every door (CLI, web, Python) writes a result through these, so a file has one format
whichever door produced it, and in whichever language: GeoJSON, CSV and ``kpis.json``
keep their stable English keys and machine values and are byte-identical in every
language. Only text meant for a person inside a file is translated: the GPX waypoint
descriptions and the track's and file's names (waypoint names and types stay as they are).
"""
