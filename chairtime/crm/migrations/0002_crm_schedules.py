"""Register the CRM's daily work as schedules, so every install has it: the full
recomputation of profiles and groups (the backstop behind the per-event refresh), and
NPS surveys for yesterday's completed visits."""

from django.db import migrations

SCHEDULES = {
    "recompute customer groups": "chairtime.crm.profiles.tasks.recompute_all_profiles_task",
    "create NPS surveys": "chairtime.crm.feedback.tasks.create_surveys_task",
}


def add_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": "D", "repeats": -1}
        )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial"), ("django_q", "0018_task_success_index")]
    operations = [migrations.RunPython(add_schedules, remove_schedules)]
