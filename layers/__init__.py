"""Layers: what each layer IS (schema, aliases), how it is read from any supported file, validated,
converted to the storage CRS and kept.

Public entry points: :func:`layers.load.load_layer`, :data:`layers.catalogue.CATALOGUE`,
:class:`layers.errors.LayerError`.
"""
