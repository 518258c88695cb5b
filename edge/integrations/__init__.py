"""Integrations: the ways edge talks to the world beyond its own pins (web view, MQTT)."""
