"""QEMU Machine Protocol (QMP): a sans-I/O client core (bytes in, events and bytes out) and the
reading of a guest's character devices from its answers. No sockets, no asyncio, no os: the
transport lives in ``console/qmp_client.py``."""
