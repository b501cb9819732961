from django.db import migrations


def forwards(apps, schema_editor):
    # The old counts knew no caller and no time of day: they become rows of caller "unknown".
    old = apps.get_model("registry", "DailyDownloadCount")
    new = apps.get_model("usage", "DailyUsage")
    new.objects.bulk_create(
        (new(tenant_id=row.file.tenant_id, file_id=row.file_id, day=row.day, caller="unknown",
             pulls=row.count)
         for row in old.objects.select_related("file").iterator()),
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [("usage", "0001_initial"), ("registry", "0006_name_page_index")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
