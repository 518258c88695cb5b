"""MQTT: Home Assistant discovery, voice events, HA commands and the fleet view, on a real broker."""
