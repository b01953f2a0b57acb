"""Register the generation of automated messages (reminders, confirmation requests,
instructions, greetings, campaigns) as a schedule every 15 minutes, so every install has
it. Each run makes what is due within the next 24 hours; keys make repeats harmless."""

from django.db import migrations

NAME = "generate automated messages"


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "chairtime.messaging.automation.tasks.generate_messages_task",
            "schedule_type": "I",  # every `minutes`
            "minutes": 15,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0002_templates_rules_links"),
        ("django_q", "0018_task_success_index"),
    ]
    operations = [migrations.RunPython(add_schedule, remove_schedule)]
