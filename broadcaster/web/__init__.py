"""The secretary's web page: ``broadcaster web``."""
