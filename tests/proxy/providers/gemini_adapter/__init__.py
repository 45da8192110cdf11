"""The Gemini adapter, as pure translation: canonical requests out, Gemini answers and stream
events (shaped like the real API's) back in."""
