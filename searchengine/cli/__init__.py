"""The command-line interface: arguments -> one request record -> one engine call."""
