"""The database guards the money (see billing/models.py): triggers for PostgreSQL and SQLite.

Errors raised here use SQLSTATE 23514 (check_violation) on PostgreSQL and RAISE(ABORT) on
SQLite, so both surface as IntegrityError; the gateway reads the message
('insufficient_credits', 'key_limit_exceeded') to answer 402.
"""

from django.db import migrations

POSTGRESQL = r"""
CREATE FUNCTION billing_ledger_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The wallet row is locked by this UPDATE, so balance_after is exact under concurrency.
  UPDATE billing_wallet SET balance_nanos = balance_nanos + NEW.amount_nanos
   WHERE id = NEW.wallet_id RETURNING balance_nanos INTO NEW.balance_after_nanos;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ledger entry for missing wallet %', NEW.wallet_id USING ERRCODE = '23503';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER billing_ledger_apply BEFORE INSERT ON billing_ledgerentry
  FOR EACH ROW EXECUTE FUNCTION billing_ledger_apply();

CREATE FUNCTION billing_ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger entries are append-only' USING ERRCODE = '23514';
END $$;
CREATE TRIGGER billing_ledger_immutable BEFORE UPDATE OR DELETE ON billing_ledgerentry
  FOR EACH ROW EXECUTE FUNCTION billing_ledger_immutable();

CREATE FUNCTION billing_hold_open() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status <> 'open' OR NEW.charge_nanos <> 0 THEN
    RAISE EXCEPTION 'a hold starts open and uncharged' USING ERRCODE = '23514';
  END IF;
  -- Lock order everywhere: wallet, then key.
  UPDATE billing_wallet SET reserved_nanos = reserved_nanos + NEW.amount_nanos
   WHERE id = NEW.wallet_id AND balance_nanos - reserved_nanos >= NEW.amount_nanos;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'insufficient_credits' USING ERRCODE = '23514';
  END IF;
  UPDATE keys_apikey SET
      period_usage_nanos = CASE WHEN period_start < NEW.key_period_start
                                THEN 0 ELSE period_usage_nanos END,
      period_start = GREATEST(period_start, NEW.key_period_start),
      reserved_nanos = reserved_nanos + NEW.amount_nanos
   WHERE id = NEW.api_key_id
     AND (limit_nanos IS NULL OR limit_nanos
          - CASE WHEN period_start < NEW.key_period_start THEN 0 ELSE period_usage_nanos END
          - reserved_nanos >= NEW.amount_nanos);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'key_limit_exceeded' USING ERRCODE = '23514';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER billing_hold_open BEFORE INSERT ON billing_hold
  FOR EACH ROW EXECUTE FUNCTION billing_hold_open();

CREATE FUNCTION billing_hold_close() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status IN ('settled', 'released') THEN
    RAISE EXCEPTION 'hold % is already %', OLD.id, OLD.status USING ERRCODE = '23514';
  END IF;
  IF NEW.status = 'open' OR (OLD.status = 'expired' AND NEW.status <> 'settled') THEN
    RAISE EXCEPTION 'invalid hold transition % -> %', OLD.status, NEW.status
      USING ERRCODE = '23514';
  END IF;
  IF (NEW.id, NEW.wallet_id, NEW.api_key_id, NEW.amount_nanos, NEW.key_period_start)
     IS DISTINCT FROM (OLD.id, OLD.wallet_id, OLD.api_key_id, OLD.amount_nanos,
                       OLD.key_period_start) THEN
    RAISE EXCEPTION 'the terms of a hold are fixed' USING ERRCODE = '23514';
  END IF;
  IF NEW.status <> 'settled' AND NEW.charge_nanos <> 0 THEN
    RAISE EXCEPTION 'only a settled hold carries a charge' USING ERRCODE = '23514';
  END IF;
  IF OLD.status = 'open' THEN
    UPDATE billing_wallet SET reserved_nanos = reserved_nanos - OLD.amount_nanos
     WHERE id = OLD.wallet_id;
    UPDATE keys_apikey SET reserved_nanos = reserved_nanos - OLD.amount_nanos
     WHERE id = OLD.api_key_id;
  END IF;
  IF NEW.status = 'settled' AND NEW.charge_nanos > 0 THEN
    UPDATE keys_apikey SET usage_nanos = usage_nanos + NEW.charge_nanos,
        period_usage_nanos = period_usage_nanos
          + CASE WHEN period_start <= OLD.key_period_start THEN NEW.charge_nanos ELSE 0 END
     WHERE id = OLD.api_key_id;
    INSERT INTO billing_ledgerentry
        (wallet_id, kind, amount_nanos, balance_after_nanos, idempotency_key, reference,
         created_at)
      VALUES (OLD.wallet_id, 'usage', -NEW.charge_nanos, 0, 'usage:' || OLD.id, 'generation',
              COALESCE(NEW.closed_at, now()));
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER billing_hold_close BEFORE UPDATE ON billing_hold
  FOR EACH ROW EXECUTE FUNCTION billing_hold_close();
"""

POSTGRESQL_REVERSE = r"""
DROP TRIGGER billing_hold_close ON billing_hold; DROP FUNCTION billing_hold_close();
DROP TRIGGER billing_hold_open ON billing_hold; DROP FUNCTION billing_hold_open();
DROP TRIGGER billing_ledger_immutable ON billing_ledgerentry;
DROP FUNCTION billing_ledger_immutable();
DROP TRIGGER billing_ledger_apply ON billing_ledgerentry; DROP FUNCTION billing_ledger_apply();
"""

# SQLite runs one writer at a time, so a check followed by an update inside one statement's
# triggers is atomic. It cannot assign NEW values: the inserter states balance_after, and the
# trigger refuses a wrong one.
SQLITE = [
    """CREATE TRIGGER billing_ledger_check BEFORE INSERT ON billing_ledgerentry
    WHEN NEW.balance_after_nanos IS NOT
         (SELECT balance_nanos + NEW.amount_nanos FROM billing_wallet WHERE id = NEW.wallet_id)
    BEGIN SELECT RAISE(ABORT, 'balance_after must be the wallet balance plus the amount'); END""",
    """CREATE TRIGGER billing_ledger_apply AFTER INSERT ON billing_ledgerentry
    BEGIN
      UPDATE billing_wallet SET balance_nanos = NEW.balance_after_nanos WHERE id = NEW.wallet_id;
    END""",
    """CREATE TRIGGER billing_ledger_no_update BEFORE UPDATE ON billing_ledgerentry
    BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
    # SQLite has no TRUNCATE; removing a whole wallet (test flushes) deletes its wallet first.
    """CREATE TRIGGER billing_ledger_no_delete BEFORE DELETE ON billing_ledgerentry
    WHEN EXISTS (SELECT 1 FROM billing_wallet WHERE id = OLD.wallet_id)
    BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
    """CREATE TRIGGER billing_hold_open_check BEFORE INSERT ON billing_hold
    BEGIN
      SELECT RAISE(ABORT, 'a hold starts open and uncharged')
       WHERE NEW.status <> 'open' OR NEW.charge_nanos <> 0;
      SELECT RAISE(ABORT, 'insufficient_credits')
       WHERE (SELECT balance_nanos - reserved_nanos FROM billing_wallet
               WHERE id = NEW.wallet_id) < NEW.amount_nanos;
      SELECT RAISE(ABORT, 'key_limit_exceeded') FROM keys_apikey
       WHERE id = NEW.api_key_id AND limit_nanos IS NOT NULL
         AND limit_nanos
             - CASE WHEN period_start < NEW.key_period_start THEN 0 ELSE period_usage_nanos END
             - reserved_nanos < NEW.amount_nanos;
    END""",
    """CREATE TRIGGER billing_hold_open_apply AFTER INSERT ON billing_hold
    BEGIN
      UPDATE billing_wallet SET reserved_nanos = reserved_nanos + NEW.amount_nanos
       WHERE id = NEW.wallet_id;
      UPDATE keys_apikey SET
          period_usage_nanos = CASE WHEN period_start < NEW.key_period_start
                                    THEN 0 ELSE period_usage_nanos END,
          period_start = max(period_start, NEW.key_period_start),
          reserved_nanos = reserved_nanos + NEW.amount_nanos
       WHERE id = NEW.api_key_id;
    END""",
    """CREATE TRIGGER billing_hold_close_check BEFORE UPDATE ON billing_hold
    BEGIN
      SELECT RAISE(ABORT, 'hold is already closed') WHERE OLD.status IN ('settled', 'released');
      SELECT RAISE(ABORT, 'invalid hold transition')
       WHERE NEW.status = 'open' OR (OLD.status = 'expired' AND NEW.status <> 'settled');
      SELECT RAISE(ABORT, 'the terms of a hold are fixed')
       WHERE NEW.id IS NOT OLD.id OR NEW.wallet_id IS NOT OLD.wallet_id
          OR NEW.api_key_id IS NOT OLD.api_key_id OR NEW.amount_nanos IS NOT OLD.amount_nanos
          OR NEW.key_period_start IS NOT OLD.key_period_start;
      SELECT RAISE(ABORT, 'only a settled hold carries a charge')
       WHERE NEW.status <> 'settled' AND NEW.charge_nanos <> 0;
    END""",
    """CREATE TRIGGER billing_hold_close_release AFTER UPDATE ON billing_hold
    WHEN OLD.status = 'open'
    BEGIN
      UPDATE billing_wallet SET reserved_nanos = reserved_nanos - OLD.amount_nanos
       WHERE id = OLD.wallet_id;
      UPDATE keys_apikey SET reserved_nanos = reserved_nanos - OLD.amount_nanos
       WHERE id = OLD.api_key_id;
    END""",
    """CREATE TRIGGER billing_hold_close_charge AFTER UPDATE ON billing_hold
    WHEN NEW.status = 'settled' AND NEW.charge_nanos > 0
    BEGIN
      UPDATE keys_apikey SET usage_nanos = usage_nanos + NEW.charge_nanos,
          period_usage_nanos = period_usage_nanos
            + CASE WHEN period_start <= OLD.key_period_start THEN NEW.charge_nanos ELSE 0 END
       WHERE id = OLD.api_key_id;
      INSERT INTO billing_ledgerentry
          (wallet_id, kind, amount_nanos, balance_after_nanos, idempotency_key, reference,
           created_at)
        SELECT id, 'usage', -NEW.charge_nanos, balance_nanos - NEW.charge_nanos,
               'usage:' || NEW.id, 'generation', NEW.closed_at
          FROM billing_wallet WHERE id = NEW.wallet_id;
    END""",
]

SQLITE_TRIGGERS = [
    "billing_ledger_check", "billing_ledger_apply", "billing_ledger_no_update",
    "billing_ledger_no_delete", "billing_hold_open_check", "billing_hold_open_apply",
    "billing_hold_close_check", "billing_hold_close_release", "billing_hold_close_charge",
]  # fmt: skip


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL, params=None)  # no client-side % formatting
    elif vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)
    else:
        raise RuntimeError(f"Switchyard's ledger guards support PostgreSQL and SQLite, not {vendor}")


def uninstall(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_REVERSE, params=None)
    else:
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_holds"),
        ("keys", "0002_apikey_limit_nanos_apikey_limit_reset_and_more"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
