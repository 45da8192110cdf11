"""A daily roll-up of generations (see `GenerationDay`), kept by triggers on PostgreSQL and
SQLite alike, and filled from the generations already recorded.

Each generation adds itself to the row of its user, UTC day, key (0: none) and model; a
deleted generation takes itself back, and an updated one does both (a key deleted later turns
its generations' key to NULL: their sums move to key 0). Rows that fall to zero are removed.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

_COLUMNS = "user_id, day, key_id, model_slug, requests, prompt_tokens, completion_tokens, cost_nanos"
_SUMS = (
    "requests = billing_generationday.requests + excluded.requests, "
    "prompt_tokens = billing_generationday.prompt_tokens + excluded.prompt_tokens, "
    "completion_tokens = billing_generationday.completion_tokens + excluded.completion_tokens, "
    "cost_nanos = billing_generationday.cost_nanos + excluded.cost_nanos"
)


def _add(row: str, day: str) -> str:
    return f"""INSERT INTO billing_generationday ({_COLUMNS})
      VALUES ({row}.user_id, {day}, COALESCE({row}.api_key_id, 0), {row}.model_slug, 1,
              {row}.prompt_tokens, {row}.completion_tokens, {row}.cost_nanos)
      ON CONFLICT (user_id, day, key_id, model_slug) DO UPDATE SET {_SUMS};"""


def _take_back(row: str, day: str) -> str:
    where = (f"user_id = {row}.user_id AND day = {day} "
             f"AND key_id = COALESCE({row}.api_key_id, 0) AND model_slug = {row}.model_slug")
    # An UPDATE, never an insert: a row already gone (a test database's flush) stays gone.
    return f"""UPDATE billing_generationday SET requests = requests - 1,
        prompt_tokens = prompt_tokens - {row}.prompt_tokens,
        completion_tokens = completion_tokens - {row}.completion_tokens,
        cost_nanos = cost_nanos - {row}.cost_nanos
      WHERE {where};
    DELETE FROM billing_generationday WHERE {where} AND requests <= 0;"""


def _backfill(day: str) -> str:
    return f"""INSERT INTO billing_generationday ({_COLUMNS})
    SELECT user_id, {day}, COALESCE(api_key_id, 0), model_slug, COUNT(*),
           SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_nanos)
      FROM billing_generation GROUP BY 1, 2, 3, 4"""


BACKFILL = {
    "postgresql": _backfill("(created_at AT TIME ZONE 'UTC')::date"),
    # Django stores SQLite datetimes as UTC text ("2026-11-30 14:03:07.123456"): date() is the day.
    "sqlite": _backfill("date(created_at)"),
}
_WATCHED = "user_id, api_key_id, model_slug, prompt_tokens, completion_tokens, cost_nanos, created_at"
_PG_DAY = "({}.created_at AT TIME ZONE 'UTC')::date"

POSTGRESQL = f"""
-- No insert may slip between the trigger and the backfill.
LOCK TABLE billing_generation IN SHARE ROW EXCLUSIVE MODE;
CREATE FUNCTION billing_generation_day_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {_take_back("OLD", _PG_DAY.format("OLD"))}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {_add("NEW", _PG_DAY.format("NEW"))}
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER billing_generation_day AFTER INSERT OR DELETE OR UPDATE OF {_WATCHED}
  ON billing_generation FOR EACH ROW EXECUTE FUNCTION billing_generation_day_apply();
{BACKFILL["postgresql"]};
"""
POSTGRESQL_REVERSE = """
DROP TRIGGER billing_generation_day ON billing_generation;
DROP FUNCTION billing_generation_day_apply();
"""

SQLITE = [
    f"""CREATE TRIGGER billing_generation_day_insert AFTER INSERT ON billing_generation
    BEGIN {_add("NEW", "date(NEW.created_at)")} END""",
    f"""CREATE TRIGGER billing_generation_day_delete AFTER DELETE ON billing_generation
    BEGIN {_take_back("OLD", "date(OLD.created_at)")} END""",
    f"""CREATE TRIGGER billing_generation_day_update AFTER UPDATE OF {_WATCHED}
    ON billing_generation
    BEGIN {_take_back("OLD", "date(OLD.created_at)")} {_add("NEW", "date(NEW.created_at)")} END""",
    BACKFILL["sqlite"],
]
SQLITE_TRIGGERS = [
    "billing_generation_day_insert", "billing_generation_day_delete",
    "billing_generation_day_update",
]  # fmt: skip


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL, params=None)  # no client-side % formatting
    elif vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)
    else:
        raise RuntimeError(f"the generation roll-up supports PostgreSQL and SQLite, not {vendor}")


def uninstall(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_REVERSE, params=None)
    else:
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0006_generation_activity_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='GenerationDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('key_id', models.BigIntegerField(help_text="The API key's id (0: none)")),
                ('model_slug', models.CharField(max_length=200)),
                ('requests', models.BigIntegerField()),
                ('prompt_tokens', models.BigIntegerField()),
                ('completion_tokens', models.BigIntegerField()),
                ('cost_nanos', models.BigIntegerField()),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('user', 'day', 'key_id', 'model_slug'), name='generation_day_unique')],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
