"""Provider staff\x27s pages."""
