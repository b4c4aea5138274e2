"""The real-time streaming worker: cache-aware NeMo inference behind a flask-sock WebSocket."""
