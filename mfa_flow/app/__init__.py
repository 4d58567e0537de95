"""The service layer: the one pipeline that writes flows, its event handlers, the views, the
Management API's and the webhooks' services. Raises domain errors only."""
