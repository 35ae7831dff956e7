"""Post-incident reviews: opened on resolving a major incident, written, published; action items."""
