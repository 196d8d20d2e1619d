"""tvwizard: find out why ``import torchvision`` fails, and get back to work.

This package never imports torch, torchvision or numpy.  Everything it learns about the
target environment comes from probes that run in a subprocess of the target interpreter.
"""

__version__ = "0.1.0"
