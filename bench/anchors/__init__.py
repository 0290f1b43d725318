"""Anchors for `make bench`: a plain Django project served beside casevote in the same run.

What a Django site with no rules does on this machine, so that casevote's figures can be
read as ratios to it and not only to its own /healthz (which runs through the site's
whole middleware stack):

- `/bare`: a bare view under Django's default (`startproject`) middleware;
- `/`: the tutorial's index, here the 30 cases of batch 2 from the database, rendered by a
  template;
- `POST /vote/`: the tutorial's vote for three cases: one ballot row, three choice rows
  and three `F()` counter updates in one transaction; no CSRF, no identity, no rule.

bench/run.py serves it with the site's gunicorn.conf.py (same workers, sync) on another
port, against its own database (`casevote_anchors`) on the benchmark's PostgreSQL cluster.
Nothing here imports the site, and the site never imports this (pyproject.toml's import
contracts): the anchors measure plain Django, not casevote.
"""
