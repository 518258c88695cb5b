"""Home Assistant's voice protocol (Wyoming): edge as an Assist satellite, and its wake and Whisper as services."""
