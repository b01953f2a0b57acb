"""Register the daily expiry of proposed treatment plans as a schedule, so every install
has it. (A plan past its date is refused at acceptance even before the run expires it.)"""

from django.db import migrations


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="expire treatment plans",
        defaults={
            "func": "chairtime.clinical.tasks.expire_plans_task",
            "schedule_type": "D",  # daily
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="expire treatment plans").delete()


class Migration(migrations.Migration):
    dependencies = [("clinical", "0003_treatment_plans"), ("django_q", "0018_task_success_index")]
    operations = [migrations.RunPython(add_schedule, remove_schedule)]
