"""Customer reminders: drafts written under guardrails (GenAI through the openai SDK, templates as the fallback)."""
