"""Authentication and roles of the lab's embedded PostgreSQL.
Why: docs/adr/0018-postgres-roles-auth-and-spectrum-scan.md.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from urllib.parse import quote

ADMIN_USER = "postgres"
HBA = """# Written by the lab (emulation/pg_auth.py): password (SCRAM) authentication on loopback TCP only.
# No unix socket is opened (the server runs with -k ''), and there is no trust line.
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
"""


class AuthError(RuntimeError):
    pass


def passfile(state_dir: Path) -> Path:
    return Path(state_dir) / "secrets" / "pgpass"


def _read(pf: Path) -> dict[str, str]:
    users = {}
    for line in pf.read_text().splitlines():
        if line and not line.startswith("#"):
            host, _port, _db, user, password = line.split(":", 4)
            users[user] = password
    return users


def ensure_passwords(state_dir: Path, app_role: str) -> dict[str, str]:
    """{user: password} for the superuser and the app role, generated once into the 0600 passfile."""
    pf = passfile(state_dir)
    pf.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(pf.parent, 0o700)
    users = _read(pf) if pf.exists() else {}
    missing = [u for u in (ADMIN_USER, app_role) if u not in users]
    if missing:
        for user in missing:
            users[user] = secrets.token_urlsafe(32)  # [A-Za-z0-9_-]: nothing libpq's passfile must escape
        lines = [
            "# The lab's PostgreSQL passwords (libpq passfile: host:port:database:user:password). Keep 0600."
        ]
        for user, password in users.items():
            lines += [f"127.0.0.1:*:*:{user}:{password}", f"localhost:*:*:{user}:{password}"]
        tmp = pf.with_name(".pgpass.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, pf)
    os.chmod(pf, 0o600)
    mode = stat.S_IMODE(pf.stat().st_mode)
    if mode != 0o600:
        raise AuthError(f"{pf}: mode {mode:o}, expected 600")
    return users


def dsn(state_dir: Path, port: int, user: str, database: str) -> str:
    """A libpq URI without a password: libpq reads it from the passfile."""
    return (
        f"postgresql://{quote(user)}@127.0.0.1:{port}/{quote(database)}"
        f"?passfile={quote(str(passfile(state_dir)))}&connect_timeout=10"
    )


def write_hba(pgdata: Path, owner: str | None) -> bool:
    """Write the lab's pg_hba.conf; True if it changed (the server must reload it)."""
    hba = pgdata / "pg_hba.conf"
    if hba.exists() and hba.read_text() == HBA:
        return False
    hba.write_text(HBA)
    os.chmod(hba, 0o600)
    if owner:
        import shutil

        shutil.chown(hba, owner, owner)
    return True


def grant_database(conn, database: str, app_role: str) -> None:
    """On `database` (conn is the superuser's, connected to it): the app role may connect, use temp tables
    and create schemas; it may create in public and in lab_meta (if the superuser made it; else the app role
    creates it). PUBLIC gets nothing on the database."""
    from psycopg import sql

    role, db = sql.Identifier(app_role), sql.Identifier(database)
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY, CREATE ON DATABASE {} TO {}").format(db, role))
    conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(role))
    if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'lab_meta'").fetchone():
        conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA lab_meta TO {}").format(role))


def setup_roles(conn, database: str, app_role: str, passwords: dict[str, str]) -> None:
    """As the superuser, on the lab's database (autocommit): passwords, the app role and its grants.
    Idempotent; objects an older lab created as the superuser in the product's schemas move to the app
    role (it could not use them otherwise)."""
    from psycopg import sql

    role = sql.Identifier(app_role)
    conn.execute("SET password_encryption = 'scram-sha-256'")
    conn.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(ADMIN_USER), sql.Literal(scram_verifier(passwords[ADMIN_USER]))
        )
    )
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [app_role]).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(
        sql.SQL(
            verb + " ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            "NOBYPASSRLS INHERIT PASSWORD {}"
        ).format(role, sql.Literal(scram_verifier(passwords[app_role])))
    )
    grant_database(conn, database, app_role)
    conn.execute(
        sql.SQL("""
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT n.nspname FROM pg_namespace n
           WHERE n.nspowner = 'postgres'::regrole AND n.nspname NOT IN ('public', 'lab_meta', 'information_schema')
             AND n.nspname NOT LIKE 'pg\\_%' LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.nspname, {role});
  END LOOP;
  FOR r IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relowner = 'postgres'::regrole AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
             AND n.nspname NOT IN ('information_schema', 'lab_meta') AND n.nspname NOT LIKE 'pg\\_%'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')
                             AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass) LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                   WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, r.rel, {role});
  END LOOP;
  FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relowner = 'postgres'::regrole AND c.relkind = 'r' AND n.nspname = 'lab_meta'
             AND c.relname = 'sys_load_error_detail' LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO %I', r.rel, {role});
  END LOOP;
END
$$""").format(role=sql.Literal(app_role))
    )


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier for `password` (RFC 5802/7677), so ALTER ROLE ... PASSWORD sends
    the verifier, never the password: a statement echoed into the server log cannot leak it."""
    import base64
    import hashlib
    import hmac

    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
