"""Deployment: the CDK app (fieldline_stack.py, synth.py), its state machines and admin scripts."""
