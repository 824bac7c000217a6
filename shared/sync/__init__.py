"""The sync engine's pure logic: Proxmox parsing, NetBox desired state, diffing, bulk writes.

Actors in ``workers/`` drive it; nothing here knows about Dramatiq.
"""
