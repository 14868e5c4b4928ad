"""Production differs from the demo only in environment values, and `check --deploy` is clean with them."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "moira.example.com", "SECURE_COOKIES": "True",
    "SECURE_SSL_REDIRECT": "True", "SECURE_HSTS_SECONDS": "31536000", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "True",
    "SECURE_HSTS_PRELOAD": "True", "MOIRA_MANIFEST_STATIC": "True", "DATABASE_URL": "sqlite:///:memory:",
}


def test_check_deploy_is_clean_with_production_settings():
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)} | PRODUCTION
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_demo_secret_is_flagged_by_check_deploy():
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "REDIS_URL")} | {"DATABASE_URL": "sqlite:///:memory:"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "security.W009" in result.stdout + result.stderr
