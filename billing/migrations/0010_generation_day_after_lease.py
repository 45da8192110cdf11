"""The daily roll-up (0007) counts a generation served under a wallet lease when its lease is
settled, not when it is recorded: every generation of a busy key would otherwise update the
same roll-up row, one lock held through each commit. `billing.leases` adds a lease's
generations to the roll-up as it settles the lease; from then on they count like any other
(an update or delete takes them back). A generation is counted iff it has no lease or its
lease is settled.
"""

import importlib

from django.db import migrations

day = importlib.import_module("billing.migrations.0007_generation_day")

# Whether a generation row is in the roll-up.
_PG_COUNTED = (
    "({row}.lease_id IS NULL OR EXISTS (SELECT 1 FROM billing_hold "
    "WHERE id = {row}.lease_id AND status = 'settled'))"
)

POSTGRESQL = f"""
CREATE OR REPLACE FUNCTION billing_generation_day_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND {_PG_COUNTED.format(row="OLD")} THEN
    {day._take_back("OLD", day._PG_DAY.format("OLD"))}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND {_PG_COUNTED.format(row="NEW")} THEN
    {day._add("NEW", day._PG_DAY.format("NEW"))}
  END IF;
  RETURN NULL;
END $$;
"""
POSTGRESQL_REVERSE = f"""
CREATE OR REPLACE FUNCTION billing_generation_day_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {day._take_back("OLD", day._PG_DAY.format("OLD"))}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {day._add("NEW", day._PG_DAY.format("NEW"))}
  END IF;
  RETURN NULL;
END $$;
"""

_SQLITE_COUNTED = _PG_COUNTED  # the same SQL


def _sqlite_triggers(counted: str) -> list[str]:
    old, new = counted.format(row="OLD"), counted.format(row="NEW")
    return [
        f"""CREATE TRIGGER billing_generation_day_insert AFTER INSERT ON billing_generation
        WHEN {new} BEGIN {day._add("NEW", "date(NEW.created_at)")} END""",
        f"""CREATE TRIGGER billing_generation_day_delete AFTER DELETE ON billing_generation
        WHEN {old} BEGIN {day._take_back("OLD", "date(OLD.created_at)")} END""",
        # An update of a counted row takes it back and adds it again (as 0007 does).
        f"""CREATE TRIGGER billing_generation_day_update AFTER UPDATE OF {day._WATCHED}
        ON billing_generation WHEN {old}
        BEGIN {day._take_back("OLD", "date(OLD.created_at)")}
              {day._add("NEW", "date(NEW.created_at)")} END""",
    ]


def _sqlite_replace(schema_editor, counted: str) -> None:  # type: ignore[no-untyped-def]
    for name in day.SQLITE_TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in _sqlite_triggers(counted):
        schema_editor.execute(statement)


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL, params=None)
    else:
        _sqlite_replace(schema_editor, _SQLITE_COUNTED)


def uninstall(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_REVERSE, params=None)
    else:
        _sqlite_replace(schema_editor, "1")


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_generation_lease"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
