"""The local stack: emulated AWS (moto server), the HTTP front and the queue pollers. Dev and CI only."""

# The local stack's port, a contract with users and tests (the Makefile's PORT default repeats it).
DEFAULT_PORT = 3560
