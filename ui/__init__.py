"""The Streamlit interface: one module per user job plus the map builder. The only place that imports streamlit."""
