"""Key lifecycle: management keys, disabling, expiry, and when a key last changed.

On SQLite Django adds a NOT NULL column by rebuilding the table, which drops every trigger
defined ON that table. `ALTER TABLE ... ADD COLUMN` with a constant default needs no rebuild,
so the two flags are added that way there: whatever triggers exist on keys_apikey stay.
"""

from django.db import migrations, models

FLAGS = ("is_management", "disabled")


def _flag(name):  # type: ignore[no-untyped-def]
    field = models.BooleanField(default=False)
    field.set_attributes_from_name(name)
    return field


def add_flags(apps, schema_editor):  # type: ignore[no-untyped-def]
    model = apps.get_model("keys", "ApiKey")
    table = schema_editor.quote_name(model._meta.db_table)
    for name in FLAGS:
        if schema_editor.connection.vendor == "sqlite":
            column = schema_editor.quote_name(name)
            schema_editor.execute(f"ALTER TABLE {table} ADD COLUMN {column} bool NOT NULL DEFAULT 0")
        else:
            schema_editor.add_field(model, _flag(name))


def remove_flags(apps, schema_editor):  # type: ignore[no-untyped-def]
    model = apps.get_model("keys", "ApiKey")
    table = schema_editor.quote_name(model._meta.db_table)
    for name in FLAGS:
        # SQLite drops a plain column in place too (no rebuild).
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):

    dependencies = [
        ('keys', '0002_apikey_limit_nanos_apikey_limit_reset_and_more'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name='apikey',
                    name='is_management',
                    field=models.BooleanField(default=False),
                ),
                migrations.AddField(
                    model_name='apikey',
                    name='disabled',
                    field=models.BooleanField(default=False),
                ),
            ],
            database_operations=[migrations.RunPython(add_flags, remove_flags)],
        ),
        migrations.AddField(
            model_name='apikey',
            name='expires_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='apikey',
            name='updated_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
