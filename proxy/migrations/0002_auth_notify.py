"""Gateways cache API key authentication (proxy/key_cache.py): PostgreSQL tells them, on the
channel `switchyard_auth`, of every change that can make a cached lookup wrong, as
`user:<id>` (the gateway drops that user's keys), or `all` (a TRUNCATE: it drops every key).

What the lookup reads, and what is notified:
- keys: a DELETE, and an UPDATE that changes a column authentication reads. `UPDATE OF` skips
  the trigger for the statements that set none of them (the hold triggers' usage and
  reservation counters, set on every request); `WHEN` for full-row saves that change none.
- users: a DELETE, and an UPDATE that changes `is_active`.
- wallets: an INSERT, a DELETE, and an UPDATE that raises the balance (credits added: a user
  refused at $0 can pay at once). Holds and charges move the reservation or lower the balance
  on every request and are not notified: the cached balance is only an estimate, every hold
  re-checks the wallet atomically.

Triggers, not signals: queryset updates, the admin, raw SQL and other processes all notify.
A notification is sent when its transaction commits, so a gateway that hears it reads the new
row; PostgreSQL sends repeated payloads of one transaction once.

SQLite has no LISTEN/NOTIFY: the gateways' cache is off there and this migration does nothing.
"""

from django.db import migrations

CHANNEL = "switchyard_auth"  # proxy.key_cache.AUTH_CHANNEL

# Columns of keys_apikey that the authentication lookup reads (proxy/auth.py).
KEY_COLUMNS = (
    "revoked_at", "disabled", "expires_at", "limit_nanos", "limit_reset", "is_management",
    "key_hash", "prefix", "user_id",
)
_KEY_CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in KEY_COLUMNS)


def _notify_function(name: str, user_id_column: str) -> str:
    # Both users when a row changes hands; OLD is NULL on INSERT, NEW on DELETE.
    return f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('{CHANNEL}', 'user:' || OLD.{user_id_column});
      END IF;
      IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('{CHANNEL}', 'user:' || NEW.{user_id_column});
      END IF;
      RETURN NULL;
    END $$"""


def _truncate_trigger(table: str) -> str:
    return f"""CREATE TRIGGER {table}_auth_truncate AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION proxy_auth_notify_all()"""


POSTGRESQL = [
    _notify_function("proxy_auth_notify_owner", "user_id"),  # keys, wallets
    _notify_function("proxy_auth_notify_user", "id"),  # users
    f"""CREATE FUNCTION proxy_auth_notify_all() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('{CHANNEL}', 'all');
      RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER keys_apikey_auth_update AFTER UPDATE OF {", ".join(KEY_COLUMNS)}
    ON keys_apikey FOR EACH ROW WHEN ({_KEY_CHANGED})
    EXECUTE FUNCTION proxy_auth_notify_owner()""",
    """CREATE TRIGGER keys_apikey_auth_delete AFTER DELETE ON keys_apikey
    FOR EACH ROW EXECUTE FUNCTION proxy_auth_notify_owner()""",
    _truncate_trigger("keys_apikey"),
    """CREATE TRIGGER accounts_user_auth_update AFTER UPDATE OF is_active ON accounts_user
    FOR EACH ROW WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active)
    EXECUTE FUNCTION proxy_auth_notify_user()""",
    """CREATE TRIGGER accounts_user_auth_delete AFTER DELETE ON accounts_user
    FOR EACH ROW EXECUTE FUNCTION proxy_auth_notify_user()""",
    _truncate_trigger("accounts_user"),
    """CREATE TRIGGER billing_wallet_auth_credit AFTER UPDATE OF balance_nanos, user_id
    ON billing_wallet FOR EACH ROW
    WHEN (NEW.balance_nanos > OLD.balance_nanos OR OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION proxy_auth_notify_owner()""",
    """CREATE TRIGGER billing_wallet_auth_insert_delete AFTER INSERT OR DELETE ON billing_wallet
    FOR EACH ROW EXECUTE FUNCTION proxy_auth_notify_owner()""",
    _truncate_trigger("billing_wallet"),
]

TRIGGERS = {
    "keys_apikey": ("keys_apikey_auth_update", "keys_apikey_auth_delete"),
    "accounts_user": ("accounts_user_auth_update", "accounts_user_auth_delete"),
    "billing_wallet": ("billing_wallet_auth_credit", "billing_wallet_auth_insert_delete"),
}
POSTGRESQL_REVERSE = [
    *(
        f"DROP TRIGGER {trigger} ON {table}"
        for table, triggers in TRIGGERS.items()
        for trigger in (*triggers, f"{table}_auth_truncate")
    ),
    "DROP FUNCTION proxy_auth_notify_owner()",
    "DROP FUNCTION proxy_auth_notify_user()",
    "DROP FUNCTION proxy_auth_notify_all()",
]


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRESQL:
            schema_editor.execute(statement, params=None)  # no client-side % formatting


def uninstall(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRESQL_REVERSE:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("proxy", "0001_initial"),
        ("accounts", "0002_routingdefaults"),
        ("keys", "0004_provider_keys"),
        ("billing", "0010_generation_day_after_lease"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
