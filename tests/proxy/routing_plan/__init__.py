"""The routing decision as a pure function: every `provider` preference and every model variant
moves the chosen endpoint (or the attempt order) away from the default, cheapest-first choice."""
