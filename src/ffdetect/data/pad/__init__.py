"""Presentation attack detection (face anti-spoofing) data: readers, protocols, synthetic stand-ins.

Labels: bona fide = 0, attack = 1 (the deepfake code's "fake" class); the ``method`` column of
the prepared manifests carries the attack type (``bonafide``, ``print``, ``replay``, ``mask``).
"""
