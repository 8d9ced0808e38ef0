"""Exporters to other trace formats."""
