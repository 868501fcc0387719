"""The local stage: moto, localstripe and Chalice's local server in one process tree."""
