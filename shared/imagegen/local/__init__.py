"""The local stack: emulated AWS (moto server), the HTTP front and the queue pollers. Dev and CI only."""
