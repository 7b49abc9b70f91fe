"""``gitferry up``'s HTTP server on 127.0.0.1: webhook receivers now, the API and UI later."""
