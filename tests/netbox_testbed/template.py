"""Build the migrated template database once: restore the dump or migrate, then add users/tokens.

The template carries a COMMENT naming the NetBox version and a fingerprint of the baked-in
credentials; a template whose comment does not match is rebuilt from scratch.
"""

from __future__ import annotations

import os
import time

from . import database
from . import settings as consts
from .instance import config_fingerprint, netbox_env
from .runner import log, run
from .settings import TestbedSettings

# Run inside ``netbox shell``: finish migrations (a no-op after restoring a current dump),
# then create the superuser and one v1 and one v2 token with the fixed test values.
_BOOTSTRAP = """
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=1)
from users.models import Token, User
user = User.objects.filter(username={name!r}).first()
if user is None:
    user = User.objects.create_superuser({name!r}, {email!r}, {password!r})
Token.objects.filter(user=user).delete()
Token.objects.create(
    user=user, version=1, token={v1!r}, write_enabled=True, description="proxbox-mq test v1"
)
Token.objects.create(
    user=user, version=2, key={v2_key!r}, token={v2_secret!r}, write_enabled=True,
    description="proxbox-mq test v2",
)
print("bootstrap: superuser and tokens ready", Token.objects.filter(user=user).count())
"""


def bootstrap_script() -> str:
    return _BOOTSTRAP.format(
        name=consts.SUPERUSER_NAME,
        email=consts.SUPERUSER_EMAIL,
        password=consts.SUPERUSER_PASSWORD,
        v1=consts.TOKEN_V1,
        v2_key=consts.TOKEN_V2_KEY,
        v2_secret=consts.TOKEN_V2_SECRET,
    )


def usable_dump(settings: TestbedSettings) -> str | None:
    """The dump named by PROXBOX_NETBOX_DUMP if it is a readable file, else None."""
    if settings.dump is None:
        return None
    if settings.dump.is_file() and os.access(settings.dump, os.R_OK):
        return str(settings.dump)
    log(f"PROXBOX_NETBOX_DUMP={settings.dump} is not a readable file; migrating instead")
    return None


def template_is_ready(settings: TestbedSettings, netbox_version: str) -> bool:
    wanted = database.ready_comment(netbox_version, config_fingerprint(settings))
    return database.database_comment(settings, settings.template_db) == wanted


def build_template(settings: TestbedSettings, netbox_version: str) -> None:
    """Reuse the template when it is ready for this version, else build it (seconds to minutes)."""
    if template_is_ready(settings, netbox_version):
        log(f"template database {settings.template_db} is ready (NetBox {netbox_version})")
        return
    started = time.monotonic()
    dump = usable_dump(settings)
    log(f"building template database {settings.template_db} for NetBox {netbox_version}")
    database.drop_template(settings)
    database.create_empty(settings, settings.template_db)
    if dump is not None:
        run(
            [
                "pg_restore", "--no-owner", "--no-acl", "--exit-on-error",
                "-h", settings.pg_host, "-p", str(settings.pg_port), "-U", settings.role,
                "-d", settings.template_db, dump,
            ],
            what=f"pg_restore {dump}",
            env={**os.environ, "PGPASSWORD": settings.role_password},
        )
        log("finishing migrations (nothing to apply for a current dump) and adding users/tokens")
    else:
        log("no dump (PROXBOX_NETBOX_DUMP unset): `migrate` on an empty database "
            "takes 6-11 minutes; progress follows")
    run(
        [settings.bin / "netbox", "shell", "-c", bootstrap_script()],
        what="migrate + superuser + tokens",
        env=netbox_env(settings, db_name=settings.template_db),
        cwd=settings.root,
    )
    fingerprint = config_fingerprint(settings)
    database.seal_template(settings, database.ready_comment(netbox_version, fingerprint))
    log(f"template database built in {time.monotonic() - started:.1f}s")
