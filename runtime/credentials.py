"""The runtime's key: read from a key file, an environment variable or an encrypted
keystore (never from the configuration or the command line), with a clear `ConfigError` for
every user mistake: a missing or unreadable file, a key file other users may read."""

from __future__ import annotations

import os
from pathlib import Path

from runtime.config import ConfigError, RuntimeConfig
from venues.hyperliquid import keys


def check_key_file(path: Path, *, allow_insecure: bool = False) -> None:
    """Refuse a key file other users may read or write, as ssh does for private keys."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read the key file {path}: {exc.strerror}") from None
    if mode & 0o077 and not allow_insecure:
        raise ConfigError(
            f"the key file {path} can be read by other users (mode {mode & 0o777:03o}): "
            f"restrict it with `chmod 600 {path}`, or pass --allow-insecure-key-file "
            "([account] allow_insecure_key_file = true) to use it anyway")


def load_key(config: RuntimeConfig) -> keys.SecretKey:
    account = config.account
    if account.key_file is not None:
        check_key_file(account.key_file, allow_insecure=account.allow_insecure_key_file)
        try:
            return keys.load_key_file(str(account.key_file))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the key file {account.key_file}: {exc}") from None
    if account.key_env is not None:
        return keys.load_key_env(account.key_env)
    if account.keystore is not None:
        password_env = account.keystore_password_env
        if password_env is not None:
            password = os.environ.get(password_env)
            if password is None:
                raise ConfigError(f"environment variable {password_env} is not set")
        else:
            import getpass

            password = getpass.getpass(f"password for {account.keystore}: ")
        return keys.load_keystore(str(account.keystore), password)
    raise ConfigError("no key configured")
