"""Register the worker's heartbeat as a cron schedule, so every install has it."""

from django.db import migrations


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="worker heartbeat",
        defaults={
            "func": "chairtime.core.tasks.record_worker_heartbeat_task",
            "schedule_type": "I",  # minutes
            "minutes": 1,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="worker heartbeat").delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial"), ("django_q", "0018_task_success_index")]
    operations = [migrations.RunPython(add_schedule, remove_schedule)]
