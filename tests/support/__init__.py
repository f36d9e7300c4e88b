"""Support code for the tests, importable from any test module: servers, proxies, processes and helpers.

Fixtures and pytest hooks stay in the conftests (`tests/conftest.py`, `tests/faults/conftest.py`), which build on
these modules; a test module imports helpers from here, never from a conftest.
"""
