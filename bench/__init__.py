"""The benchmark (run.py) and its anchor project (anchors/): beside the site, never part of it.

A package only so that gunicorn can import `bench.anchors.wsgi` and the import contracts
in pyproject.toml can keep the site and the anchors apart.
"""
