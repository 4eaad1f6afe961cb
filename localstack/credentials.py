"""The local stack's secrets: given in the environment, else kept in ``DATA_DIR/secrets/``.

Each secret (the admin API key, the artifact signing key, the Flower login and the password
of the embedded Redis) is resolved in this order:

1. the environment (``TENSORFLEET_ADMIN_KEY``, ``ARTIFACT_SIGNING_KEY``, ``FLOWER_BASIC_AUTH``,
   ``REDIS_PASSWORD``; read by :meth:`StackConfig.from_env`) or the StackConfig field: used
   as is and written nowhere;
2. its file under ``DATA_DIR/secrets/`` (directory 0700, files 0600), written by an earlier
   start: the same key, password and login across restarts;
3. else a new random value (:func:`secrets.token_urlsafe`), written to that file first.

A file is created next to its final name and hard-linked into place, so two stacks starting
on the same DATA_DIR at once agree on one value, and nobody ever reads a half-written file.
The values reach the children through their environment only (never a command line), and
the Redis password through redis-server's stdin (:func:`redis_config`).
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from localstack.config import ConfigError, StackConfig

SECRETS_DIR = "secrets"
MIN_KEY_LENGTH = 32  # what the app requires of TENSORFLEET_ADMIN_KEY and ARTIFACT_SIGNING_KEY
MIN_PASSWORD_LENGTH = 16
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")  # needs no quoting in a URL nor in a Redis ACL

# Refused to every client of the embedded (and the compose) Redis: what an intruder uses to
# write files (CONFIG SET dir/dbfilename + SAVE), run code (MODULE LOAD, DEBUG) or take the
# server over (SLAVEOF/REPLICAOF/FAILOVER), and ACL, which would lift these rules again.
# Celery (kombu), Flower and redis-py use none of them.
REDIS_REFUSED_COMMANDS = ("config", "debug", "module", "slaveof", "replicaof", "failover", "acl")
REDIS_ACL_RULES = "~* &* +@all " + " ".join(f"-{name}" for name in REDIS_REFUSED_COMMANDS)


def redis_acl(password: str) -> str:
    """The ACL of Redis's only user, ``default``: the password, every key and channel, and
    every command but :data:`REDIS_REFUSED_COMMANDS`."""
    return f"user default on >{password} {REDIS_ACL_RULES}"


def redis_config(password: str) -> str:
    """The redis-server configuration read from its stdin (``redis-server -``)."""
    return redis_acl(password) + "\n"


# -- what each secret is -------------------------------------------------------------------
def _key_problem(value: str) -> str | None:
    if len(value) < MIN_KEY_LENGTH:
        return f"must be at least {MIN_KEY_LENGTH} characters long (got {len(value)})"
    if any(c.isspace() or not c.isprintable() for c in value):
        return "must not contain whitespace or control characters"
    return None


def _flower_problem(value: str) -> str | None:
    user, _, password = value.partition(":")
    if not user or not password:
        return "must be 'user:password'"
    if any(c.isspace() or not c.isprintable() for c in value):
        return "must not contain whitespace or control characters"
    return None


def _redis_problem(value: str) -> str | None:
    if not _URL_SAFE.fullmatch(value):
        return "must consist of letters, digits, '-', '_', '.' and '~' (it goes into REDIS_URL)"
    if len(value) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters long (got {len(value)})"
    return None


@dataclass(frozen=True)
class Spec:
    """One kind of secret: the StackConfig field and variable that give it, its file, how a
    new one is made and what a valid one looks like."""

    field: str
    env_var: str
    file: str
    generate: Callable[[], str]
    check: Callable[[str], str | None]

    def problem(self, value: str) -> str | None:
        """Why ``value`` is refused, or None."""
        return self.check(value)


ADMIN_KEY = Spec(
    "admin_key",
    "TENSORFLEET_ADMIN_KEY",
    "admin_key",
    lambda: secrets.token_urlsafe(32),
    _key_problem,
)
ARTIFACT_SIGNING_KEY = Spec(
    "artifact_signing_key",
    "ARTIFACT_SIGNING_KEY",
    "artifact_signing_key",
    lambda: secrets.token_urlsafe(48),
    _key_problem,
)
FLOWER_AUTH = Spec(
    "flower_auth",
    "FLOWER_BASIC_AUTH",
    "flower_auth",
    lambda: f"admin:{secrets.token_urlsafe(18)}",
    _flower_problem,
)
REDIS_PASSWORD = Spec(
    "redis_password",
    "REDIS_PASSWORD",
    "redis_password",
    lambda: secrets.token_urlsafe(32),
    _redis_problem,
)
SPECS = (ADMIN_KEY, ARTIFACT_SIGNING_KEY, FLOWER_AUTH, REDIS_PASSWORD)


# -- resolving ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Secret:
    """A resolved secret. ``path`` is the file it is kept in (None: given by the environment,
    so not ours to print); ``generated`` is True when this resolution created that file."""

    spec: Spec
    value: str
    path: Path | None
    generated: bool = False

    @property
    def from_environment(self) -> bool:
        """Given by the operator (``spec.env_var`` or the StackConfig field)."""
        return self.path is None

    def __repr__(self) -> str:  # never the value, e.g. in a traceback or a test report
        where = self.spec.env_var if self.path is None else str(self.path)
        return f"Secret({self.spec.field}, from {where})"


@dataclass(frozen=True)
class StackSecrets:
    """Every secret of one LocalStack; ``redis_password`` is None with an external Redis."""

    directory: Path
    admin_key: Secret
    artifact_signing_key: Secret
    flower_auth: Secret
    redis_password: Secret | None


def resolve(config: StackConfig, data_dir: Path) -> StackSecrets:
    """Each secret from ``config`` (the environment), else its file, else generated."""
    directory = secrets_dir(data_dir)

    def one(spec: Spec) -> Secret:
        given = getattr(config, spec.field)
        if given is None:
            return kept(spec, directory)
        if problem := spec.problem(given):
            raise ConfigError(f"{spec.env_var} {problem}")
        return Secret(spec, given, None)

    return StackSecrets(
        directory=directory,
        admin_key=one(ADMIN_KEY),
        artifact_signing_key=one(ARTIFACT_SIGNING_KEY),
        flower_auth=one(FLOWER_AUTH),
        redis_password=None if config.redis_url else one(REDIS_PASSWORD),
    )


def secrets_dir(data_dir: Path) -> Path:
    """``data_dir/secrets``, created if need be, accessible to its owner only (0700)."""
    directory = data_dir / SECRETS_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(directory.stat().st_mode) != 0o700:
        directory.chmod(0o700)
    return directory


def kept(spec: Spec, directory: Path) -> Secret:
    """The secret kept in ``directory/spec.file``; generated and written there if absent."""
    path = directory / spec.file
    generated = False
    try:
        value = _read(path)
    except FileNotFoundError:
        generated = _create(path, spec.generate())
        value = _read(path)
    if problem := spec.problem(value):
        raise ConfigError(
            f"{path} (kept {spec.env_var}) {problem}: fix it, set {spec.env_var}, or delete the "
            "file to have a new one generated"
        )
    return Secret(spec, value, path, generated)


def _read(path: Path) -> str:
    """A secret file's stripped content, its mode tightened to 0600 if it was looser."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, encoding="utf-8") as file:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, 0o600)
        return file.read().strip()


def _create(path: Path, value: str) -> bool:
    """Write ``value`` to ``path`` (0600) unless it exists; False if another process won."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(value + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)  # atomic and exclusive: the first start wins
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: exclusive create, not atomic
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(value + "\n")
        return True
    finally:
        temporary.unlink(missing_ok=True)
