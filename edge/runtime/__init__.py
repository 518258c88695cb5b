"""Runtime: the pipeline state machine, the daemon, systemd integration, status and feedback."""
