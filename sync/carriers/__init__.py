"""Carrier detection and the adapters that ask providers where parcels are."""
