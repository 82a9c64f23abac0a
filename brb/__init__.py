"""brb — the Big Red Button: an overflow valve from a local Ollama to a cloud provider."""

__version__ = "0.1.0"
