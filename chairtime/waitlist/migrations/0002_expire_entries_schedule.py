"""Register the daily expiry of waitlist entries past their last day as a schedule, so
every install has it. (The ranking already skips them before the run marks them.)"""

from django.db import migrations

NAME = "expire waitlist entries"


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "chairtime.waitlist.tasks.expire_entries_task",
            "schedule_type": "D",  # daily
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("waitlist", "0001_initial"), ("django_q", "0018_task_success_index")]
    operations = [migrations.RunPython(add_schedule, remove_schedule)]
