"""The store: MongoDB through pymongo (an embedded MongoDB-wire server by default)."""
from dataflow.store.connection import StoreAddress, connect_store, resolve_address

__all__ = ["StoreAddress", "connect_store", "resolve_address"]
