"""Local stand-ins for the demo and tests: sandboxes, SMTP sink, demo runner, Airflow environment."""
