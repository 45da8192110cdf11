from django.db import migrations, models


class Migration(migrations.Migration):
    """Generations served under a wallet lease (see billing/leases.py) name their lease: the
    lease is charged what they cost when it closes. A plain ADD COLUMN (see 0008)."""

    dependencies = [
        ("billing", "0008_generation_is_byok"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="generation",
                    name="lease_id",
                    field=models.CharField(max_length=64, null=True, blank=True),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE billing_generation ADD COLUMN lease_id varchar(64) NULL",
                    "ALTER TABLE billing_generation DROP COLUMN lease_id",
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="generation",
            index=models.Index(
                fields=["lease_id"], name="generation_lease",
                condition=models.Q(lease_id__isnull=False),
            ),
        ),  # fmt: skip
    ]
