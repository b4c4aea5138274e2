"""Marshmallow schemas: request (load) and response (dump) shapes, shared by REST and WebSocket."""
