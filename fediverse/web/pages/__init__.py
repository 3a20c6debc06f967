"""The HTML pages people use."""
