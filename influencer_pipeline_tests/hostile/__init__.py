"""Hostile inputs for the reliability and security corpus (issue 7).

Every hostile file, sheet and server response is CREATED at test time by the builders here, in a
temp folder: nothing large is checked in. ``corpus`` holds the table of cases with their expected
outcomes; ``media``, ``sheets`` and ``server`` hold the builders; ``pipeline`` runs the content
and URL cases through the real pipeline once per test session.
"""
