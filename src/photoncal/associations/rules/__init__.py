"""Rule files (YAML) of the default association rule sets."""
