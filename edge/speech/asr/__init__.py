"""Command recognition: Whisper, Vosk and PocketSphinx, and fetching their models."""
