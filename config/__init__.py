"""Configuration: the schema, the loader and the secrets from the environment."""
