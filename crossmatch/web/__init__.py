"""Review web UI: server-rendered Jinja2 pages with a little vanilla JS (no CDN, no build step).

``crossmatch.web.views.router`` (sign-in, queue, cases, media) and
``crossmatch.web.admin_views.router`` (banks, dead letters) are included by
the API app factory.
"""
