"""Probes: declarative descriptions of what to collect for a product or a layer."""
