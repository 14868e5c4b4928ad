"""Moira crawler for the Raspberry Pi: copies Hioki PW3360 files from the loggers and uploads them to Moira.

Importing this package has no side effects and needs nothing beyond the standard library (the server imports
``crawler.pw3360`` from here). Run it with ``python -m crawler run --config crawler.toml``; see README.md.
"""
