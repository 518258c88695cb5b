"""The classroom live view: a page served by the daemon showing what edge hears, understands and does."""
