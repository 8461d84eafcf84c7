"""Plugins: their definition, discovery, configs in the main DB, and handler meta."""

from jobline.plugins.plugin import Handler, JobDefinition, Plugin

__all__ = ["Handler", "JobDefinition", "Plugin"]
