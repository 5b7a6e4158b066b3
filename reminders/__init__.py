"""Reminders: the programs' dates as a calendar, and who hears of which date when."""
