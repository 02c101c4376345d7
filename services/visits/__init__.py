"""Home visits and rounds: schedules per resident, when each is due, and overdue reminders."""
