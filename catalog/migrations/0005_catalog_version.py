"""The catalog's version: one number that every write to a model, provider or endpoint raises,
so a gateway can ask "did the catalog change?" with one tiny query instead of reloading it.

Triggers, not signals: bulk_create, queryset.update(), data migrations and raw SQL bump it too.
PostgreSQL bumps once per statement (TRUNCATE included); SQLite, which has no statement-level
triggers, once per row. The bump is an UPDATE of one row inside the writer's transaction, so a
reader sees the new number only once the change itself is committed and visible.

The table belongs to no Django model on purpose: a test database's flush empties every model's
table, and a version that started over could come back to a number a gateway already holds,
which would then keep serving a catalog that no longer exists. Should the row be deleted anyway,
the next bump recreates it and readers take a missing row as version 0.
"""

from django.db import migrations

TABLES = ("catalog_model", "catalog_provider", "catalog_endpoint")

# Written once, valid on both: SQLite has supported upserts since 3.24.
BUMP = """INSERT INTO catalog_catalogversion (id, version) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET version = catalog_catalogversion.version + 1;"""

TABLE = """CREATE TABLE catalog_catalogversion (
    id smallint PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
)"""
FIRST_ROW = "INSERT INTO catalog_catalogversion (id, version) VALUES (1, 1)"

POSTGRESQL = [
    TABLE,
    FIRST_ROW,
    f"""CREATE FUNCTION catalog_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      {BUMP}
      RETURN NULL;
    END $$""",
    *(
        f"""CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON {table} FOR EACH STATEMENT EXECUTE FUNCTION catalog_version_bump()"""
        for table in TABLES
    ),
]
POSTGRESQL_REVERSE = [
    *(f"DROP TRIGGER {table}_version ON {table}" for table in TABLES),
    "DROP FUNCTION catalog_version_bump()",
    "DROP TABLE catalog_catalogversion",
]

EVENTS = ("insert", "update", "delete")
SQLITE_TRIGGERS = [f"{table}_version_{event}" for table in TABLES for event in EVENTS]
SQLITE = [
    TABLE,
    FIRST_ROW,
    *(
        f"""CREATE TRIGGER {table}_version_{event} AFTER {event.upper()} ON {table}
        BEGIN {BUMP} END"""
        for table in TABLES
        for event in EVENTS
    ),
]
SQLITE_REVERSE = [
    *(f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS),
    "DROP TABLE catalog_catalogversion",
]


def _statements(vendor: str, *, forward: bool) -> list[str]:
    if vendor == "postgresql":
        return POSTGRESQL if forward else POSTGRESQL_REVERSE
    if vendor == "sqlite":
        return SQLITE if forward else SQLITE_REVERSE
    raise RuntimeError(f"the catalog version supports PostgreSQL and SQLite, not {vendor}")


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    for statement in _statements(schema_editor.connection.vendor, forward=True):
        schema_editor.execute(statement, params=None)  # no client-side % formatting


def uninstall(apps, schema_editor):  # type: ignore[no-untyped-def]
    for statement in _statements(schema_editor.connection.vendor, forward=False):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_provider_formats_and_details")]

    operations = [migrations.RunPython(install, uninstall)]
