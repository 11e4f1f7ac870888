"""Demo data for a first look at GxPFlow: one user per role (and more as features land)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from engine import audit
from engine.identity import roles
from engine.identity import service as identity

DEMO_PASSWORD = "Demo-pass-2026"  # noqa: S105 - published demo password

DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("clerk", "Li Ming 李明", roles.RECEIVING_CLERK),
    ("inspector", "Wang Fang 王芳", roles.INSPECTOR),
    ("inspector2", "Zhao Lei 赵磊", roles.INSPECTOR),
    ("operator", "Chen Jie 陈杰", roles.WAREHOUSE_OPERATOR),
    ("qm", "Liu Yang 刘洋", roles.QUALITY_MANAGER),
    ("compliance", "Sarah Miller", roles.COMPLIANCE_OFFICER),
    ("owner", "Hans Weber", roles.PROCESS_OWNER),
    ("admin", "Admin 管理员", roles.ADMINISTRATOR),
    ("auditor", "Emma Dubois", roles.AUDITOR),
    ("erp", "ERP integration", roles.API_CLIENT),
)


def seed_users() -> list[str]:
    """Create the demo users (kept if they exist); returns a line per user."""
    lines = []
    for username, full_name, role in DEMO_USERS:
        user = identity.find_user(username)
        if user is None:
            user = identity.create_user(audit.SYSTEM, username, full_name, DEMO_PASSWORD,
                                        must_change_password=False)
            if role != roles.API_CLIENT:
                identity.record_training(audit.SYSTEM, user, role,
                                         date.today() - timedelta(days=30),
                                         date.today() + timedelta(days=335),
                                         "Demo induction training")
            identity.grant_role(audit.SYSTEM, user, role)
        lines.append(f"{username:12} {roles.ROLES[role]['en']}")
    return lines


def seed_api_token(instance_path: Path) -> str:
    """A token for the demo API client, written once to the instance folder."""
    token_file = instance_path / "demo-api-token.txt"
    if token_file.exists():
        return token_file.read_text().strip()
    client = identity.find_user("erp")
    if client is None:
        raise RuntimeError("seed the demo users first")
    plain = identity.create_token(audit.SYSTEM, client, "Demo ERP token", days=365)
    token_file.write_text(plain + "\n")
    token_file.chmod(0o600)
    return plain
