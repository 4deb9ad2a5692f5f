"""The flow editor page and its parts: canvas events, palette, forms, tests, history."""
