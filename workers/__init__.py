"""proxbox-mq workers: Dramatiq actors. Never imported by the gateway."""
