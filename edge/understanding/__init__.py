"""Understanding: the intent vocabulary, the TFLite classifier, slots, and the command handler."""
