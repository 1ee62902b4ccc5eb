"""Plugins: the loader, the plugin contract, the registry."""
