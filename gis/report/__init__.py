"""What goes out: workbooks, GeoPackage/GeoJSON/KML files and printed A4 maps of a flood plan or a fire review."""
