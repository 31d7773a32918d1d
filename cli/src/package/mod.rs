//! Cross-building agent-fn and packaging it as a deterministic Lambda zip.
