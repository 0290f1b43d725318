"""Drop the ballot table's indexes that no query needs, so a ballot insert maintains
9 indexes instead of 17 (issue #24; the review, with the plans and the figures, is
in bench/README.md, "The ballot table's indexes").

Dropped: the lone foreign-key indexes on follower and batch (the one-ballot-per-period
constraint starts with follower_id, the (batch, status) index with batch_id), status
alone (every status filter also names the batch or primary keys), cast_day (nothing
filters on it but the admin's date filter, which the cast_at index answers), and the
`varchar_pattern_ops` copies PostgreSQL gets of form_nonce, receipt, status and
device_id (for LIKE 'x%', which no query runs on them). Every unique constraint stays.

Only indexes are dropped: the state changes (db_index=False) are applied without the
ALTER FIELD Django would run, which drops and re-adds the foreign keys and so checks
every ballot again under a lock. Dropping an index is quick; the reverse rebuilds them.
The `_like` indexes are no part of Django's state (the schema editor adds them beside a
unique or indexed CharField on PostgreSQL), so they are named here.
"""

import django.db.models.deletion
from django.db import migrations, models

# (index, column, PostgreSQL only: the varchar_pattern_ops copy)
DROPPED = [
    ("ballots_ballot_follower_id_e8b118f8", "follower_id", False),
    ("ballots_ballot_batch_id_95a0e632", "batch_id", False),
    ("ballots_ballot_status_f5f615ea", "status", False),
    ("ballots_ballot_cast_day_767be205", "cast_day", False),
    ("ballots_ballot_status_f5f615ea_like", "status", True),
    ("ballots_ballot_form_nonce_cca69ba7_like", "form_nonce", True),
    ("ballots_ballot_receipt_2028319d_like", "receipt", True),
    ("ballots_ballot_device_id_6c34aa7f_like", "device_id", True),
]


def drop_indexes(apps, schema_editor):
    for name, _column, _pattern in DROPPED:
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_indexes(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    quote = schema_editor.quote_name
    for name, column, pattern in DROPPED:
        if pattern and not postgresql:
            continue
        operator_class = " varchar_pattern_ops" if pattern else ""
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(name)} "
            f"ON {quote('ballots_ballot')} ({quote(column)}{operator_class})"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("ballots", "0008_follower_origin_network"),
        ("cases", "0005_batch_publication"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ballot",
                    name="batch",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ballots",
                        to="cases.batch",
                        verbose_name="批次",
                    ),
                ),
                migrations.AlterField(
                    model_name="ballot",
                    name="cast_day",
                    field=models.DateField(verbose_name="投票日期（北京时间）"),
                ),
                migrations.AlterField(
                    model_name="ballot",
                    name="follower",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ballots",
                        to="ballots.follower",
                        verbose_name="关注者",
                    ),
                ),
                migrations.AlterField(
                    model_name="ballot",
                    name="status",
                    field=models.CharField(
                        choices=[("valid", "有效"), ("void", "已作废")],
                        default="valid",
                        max_length=10,
                        verbose_name="状态",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_indexes, create_indexes, elidable=False),
            ],
        ),
    ]
