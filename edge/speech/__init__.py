"""Audio and speech: sources, wake word, voice activity and endpoint, command recognition."""
