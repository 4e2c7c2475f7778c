"""Text -> vectors: the sentence-transformers model (torch or ONNX Runtime) and the
hashing encoder tests use."""
