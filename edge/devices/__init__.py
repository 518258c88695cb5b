"""Devices: board profiles, gpiozero outputs, and intents turned into device calls."""
