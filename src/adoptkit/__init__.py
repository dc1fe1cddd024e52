"""adoptkit: corporate AI training that sticks, on Jupyter."""

__version__ = "0.1.0"
