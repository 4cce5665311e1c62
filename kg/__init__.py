"""Bukhara Deer Knowledge Graph: build, validate, reason over and query the CMS
Draft Work Programme for the Bukhara Deer (2025-2032) as RDF."""

__version__ = "0.1.0"
