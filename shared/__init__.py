"""proxbox-mq shared library: imported by both the gateway and the workers.

It imports neither of them (see ARCHITECTURE.md, "three rooms, one direction").
"""

__version__ = "0.1.0"
