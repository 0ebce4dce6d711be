"""Next best actions: the daily action queue."""
