"""What the forest-fire office asks: fire risk and weather, camera viewsheds, water reach, gaps, siting, the review."""
