from django.db import migrations


def install(apps, schema_editor):
    from plans.builtin_templates import install as install_builtin

    install_builtin(apps.get_model("plans", "PlanTemplate"), apps.get_model("plans", "TemplateStep"))


class Migration(migrations.Migration):
    dependencies = [("plans", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
