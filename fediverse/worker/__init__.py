"""The background shell: the worker loop and which queues it runs."""
