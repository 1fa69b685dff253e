"""One service per job: a workspace and typed options in, a typed immutable result out.

The CLI, the web app and Python users call these and nothing else for results.
"""
