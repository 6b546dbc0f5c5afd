"""Actions: policies per bank, webhook sinks, durable delivery with retries and dead letters."""
