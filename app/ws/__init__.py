"""WebSocket routes of the API (flask-sock), kept apart from the REST blueprints."""
