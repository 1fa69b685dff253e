"""Maps, briefing pages and printing: how results look on screen and on paper."""
