"""Page data for the web app: what each page shows, built from services and render.

Imported by :mod:`web` only; returns data and maps, never responses.
"""
