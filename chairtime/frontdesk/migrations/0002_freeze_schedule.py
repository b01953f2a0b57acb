"""Register the freezing of each day's scheduled production as a schedule, every 15
minutes, so every install has it: a branch is frozen soon after its local freeze time."""

from django.db import migrations

NAME = "freeze day production"


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "chairtime.frontdesk.tasks.freeze_day_production_task",
            "schedule_type": "I",  # every `minutes`
            "minutes": 15,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("frontdesk", "0001_initial"), ("django_q", "0018_task_success_index")]
    operations = [migrations.RunPython(add_schedule, remove_schedule)]
