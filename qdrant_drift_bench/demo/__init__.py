"""The README demo: a real embedding-model upgrade on real text, on embedded Qdrant."""
