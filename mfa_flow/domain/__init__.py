"""The domain: flows, the machine's table, the rules, users, events and errors. No I/O."""
