"""Configuration: YAML files, settings, pipelines, layered plugin config, the
ConfigManager, stored pipelines, validation."""
