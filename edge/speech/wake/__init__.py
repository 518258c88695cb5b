"""Wake words: the engines, custom heads on speech embeddings, their training and Whisper verification."""
