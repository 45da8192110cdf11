"""Holds may be zero (a request to a free model is still held and settled once).

SQLite changes a constraint by rebuilding the table, which drops the table's triggers: the
ledger guards of 0003 on `billing_hold` are put back afterwards.
"""

import importlib

from django.db import migrations, models

guards = importlib.import_module("billing.migrations.0003_ledger_guards")
HOLD_TRIGGERS = [name for name in guards.SQLITE_TRIGGERS if name.startswith("billing_hold_")]


def reinstall_sqlite_hold_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "sqlite":
        return
    for name in HOLD_TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in guards.SQLITE:
        if "ON billing_hold" in statement:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_ledger_guards"),
        ("keys", "0002_apikey_limit_nanos_apikey_limit_reset_and_more"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="hold", name="hold_positive"),
        migrations.AddConstraint(
            model_name="hold",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount_nanos__gte", 0)), name="hold_not_negative"
            ),
        ),
        migrations.RunPython(reinstall_sqlite_hold_triggers, migrations.RunPython.noop),
    ]
