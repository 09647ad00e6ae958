"""Jobs: short functions that call the stages in order and record what was done.

`two_date` (two images of a site), `series` (every usable look over a period) and
`watchlist` (every site since its last run, stored, with alerts). The CLI and the web app
only parse, call these and print.
"""
