"""edge: an offline voice runtime for single-board computers.

Wake word, command recognition, intent classification and GPIO device control, all on the device.
"""

__version__ = "0.1.0"
