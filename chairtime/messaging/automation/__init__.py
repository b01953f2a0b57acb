"""Message templates, automation rules, the generation of due messages (reminders,
confirmation requests, instructions, greetings, campaigns) and confirmation links."""
