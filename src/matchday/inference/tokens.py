"""Role-bearing JWTs for the admin routes: HS256 with `Settings.jwt_secret`, or on the local profile without one a
random secret kept in `<state_dir>/serving/jwt-secret`. Roles: `viewer` reads canary status, `admin` also starts,
pauses, resumes and aborts canaries (admin implies viewer). A `prod` server refuses to sign or check without a
configured secret: a pod-local one would differ between replicas."""

from __future__ import annotations

import logging
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from matchday.config import ENV_PREFIX, Profile, Settings, SettingsError
from matchday.inference.errors import Forbidden, Unauthorized

__all__ = ["ROLES", "TokenClaims", "issue_token", "resolve_jwt_secret", "verify_token"]

logger = logging.getLogger(__name__)

ROLES = ("admin", "viewer")
_IMPLIED_ROLES = {"admin": ("admin", "viewer"), "viewer": ("viewer",)}
_ISSUER = "matchday"
_ALGORITHM = "HS256"
_MIN_SECRET_BYTES = 32  # HS256's digest size; PyJWT warns below it
_MAX_TTL_SECONDS = 30 * 24 * 3600
_CLOCK_SKEW_SECONDS = 10  # between the machine that issued a token and the replica that checks it


def resolve_jwt_secret(settings: Settings) -> str:
    """`Settings.jwt_secret`, or on the local profile the state dir's secret file (made on first use)."""
    if settings.jwt_secret is not None:
        secret = settings.jwt_secret.get_secret_value()
        if len(secret.encode()) < _MIN_SECRET_BYTES:
            raise SettingsError(f"{ENV_PREFIX}JWT_SECRET is too short: HS256 needs at least {_MIN_SECRET_BYTES} bytes")
        return secret
    if settings.profile is Profile.PROD:  # Settings refuses this already; never sign with a pod-local secret
        raise SettingsError(f"profile 'prod' needs {ENV_PREFIX}JWT_SECRET (signs the admin tokens)")
    return _local_secret(settings.state_dir / "serving" / "jwt-secret")


def _local_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written whole to a private temporary file (mkstemp: 0600), then hard-linked into place: the link fails
        # if another process won the race, and nobody ever reads a half-written secret.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".jwt-secret.")
        try:
            with open(handle, "w", encoding="ascii") as file:  # noqa: PTH123 - a descriptor, not a path
                file.write(secrets.token_urlsafe(48))
            try:
                path.hardlink_to(temporary)
                logger.info("auth.jwt_secret.created", extra={"path": str(path)})
            except FileExistsError:
                pass
        finally:
            Path(temporary).unlink()
    if path.stat().st_mode & 0o077:
        logger.warning("auth.jwt_secret.readable_by_others", extra={"path": str(path)})
    secret = path.read_text(encoding="ascii").strip()
    if len(secret.encode()) < _MIN_SECRET_BYTES:
        raise SettingsError(f"{path} holds a JWT secret shorter than {_MIN_SECRET_BYTES} bytes; delete it")
    return secret


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    roles: tuple[str, ...]  # as issued, without the implied ones
    issued_at: datetime
    expires_at: datetime

    def has_role(self, role: str) -> bool:
        return any(role in _IMPLIED_ROLES.get(held, ()) for held in self.roles)


def _check_roles(roles: Sequence[str], field_name: str) -> None:
    if not roles or any(role not in ROLES for role in roles):
        raise ValueError(f"{field_name}={list(roles)!r}: expected one or more of {', '.join(ROLES)}")


def issue_token(
    settings: Settings, subject: str, roles: Sequence[str], ttl_seconds: int = 3600, *, now: datetime | None = None
) -> str:
    """A signed JWT for `subject` holding `roles`, valid `ttl_seconds` (at most 30 days) from `now`."""
    if not subject or len(subject) > 128:
        raise ValueError(f"subject={subject!r}: 1-128 characters naming the person or tool")
    if isinstance(roles, str):  # a lone role string would otherwise be read as its letters
        roles = [roles]
    _check_roles(roles, "roles")
    if not 1 <= ttl_seconds <= _MAX_TTL_SECONDS:
        raise ValueError(f"ttl_seconds={ttl_seconds!r}: must be between 1 and {_MAX_TTL_SECONDS}")
    issued = now or datetime.now(UTC)
    claims = {
        "sub": subject,
        "roles": sorted(set(roles)),
        "iat": issued,
        "exp": issued + timedelta(seconds=ttl_seconds),
        "iss": _ISSUER,
    }
    return jwt.encode(claims, resolve_jwt_secret(settings), algorithm=_ALGORITHM)


def verify_token(settings_or_secret: Settings | str, token: str | None, required_role: str) -> TokenClaims:
    """The token's claims if it is valid and grants `required_role`: else `Unauthorized` (missing, invalid,
    expired) or `Forbidden` (valid, without the role)."""
    _check_roles([required_role], "required_role")
    if not token:
        raise Unauthorized("missing token: send 'Authorization: Bearer <JWT>' (see `matchday auth token`)")
    secret = settings_or_secret if isinstance(settings_or_secret, str) else resolve_jwt_secret(settings_or_secret)
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer=_ISSUER,
            leeway=_CLOCK_SKEW_SECONDS,
            options={"require": ["sub", "iat", "exp", "iss", "roles"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired: issue a new one") from None
    except jwt.InvalidSignatureError:
        raise Unauthorized("invalid token: bad signature (signed with another secret?)") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}") from None
    roles = payload["roles"]
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise Unauthorized("invalid token: 'roles' must be a list of role names")
    claims = TokenClaims(
        subject=str(payload["sub"]),
        roles=tuple(roles),
        issued_at=datetime.fromtimestamp(payload["iat"], UTC),
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
    )
    if not claims.has_role(required_role):
        raise Forbidden(f"role {required_role!r} required; the token holds {sorted(roles)!r}")
    return claims
