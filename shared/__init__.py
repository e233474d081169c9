"""WhatsApp archiver for Microsoft 365: the package behind function_app.py and the CLI."""
