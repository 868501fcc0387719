"""Deployment: the CDK app (fieldline_stack.py composing parts/, synth.py), its state machines
and admin scripts."""
