"""Story judgements: how much two clusters are the same or a related story, threads,
recommendations, and the engine's story questions."""
