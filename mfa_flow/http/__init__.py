"""The HTTP API: thin aiohttp handlers over the flow service and the management rules."""
