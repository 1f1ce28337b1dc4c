"""The image reader: a process that reads queued pictures, each in a child it can kill."""
