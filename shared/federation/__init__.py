"""The federation: which units exist, which instance hosts them, and how to run them locally."""
