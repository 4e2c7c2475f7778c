"""The Milvus backend: an index in a Milvus server (or milvus-lite). Imports
nothing from the embedded backend."""
