"""The core: config, events, control, metrics, layers, presets, errors. Imports nothing above it, no UI, no framework."""
