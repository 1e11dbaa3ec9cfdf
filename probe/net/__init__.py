"""Network primitives. Each returns typed observations (``probe.model``) and never raises
for what happens on the wire: failures are recorded as OONI failure strings."""
