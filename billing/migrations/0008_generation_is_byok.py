from django.db import migrations, models


class Migration(migrations.Migration):
    """A plain ADD COLUMN: Django's SQLite AddField would rebuild the table, dropping the
    triggers that keep GenerationDay (0007)."""

    dependencies = [
        ("billing", "0007_generation_day"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="generation",
                    name="is_byok",
                    field=models.BooleanField(db_default=False, default=False),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE billing_generation ADD COLUMN is_byok boolean NOT NULL "
                    "DEFAULT FALSE",
                    "ALTER TABLE billing_generation DROP COLUMN is_byok",
                ),
            ],
        ),
    ]
