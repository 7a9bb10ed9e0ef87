"""Analysis: what the offices ask, as pure functions on GeoDataFrames and rasters (no streamlit).

``python -m gis --help`` lists the batch commands over the same functions.
"""
