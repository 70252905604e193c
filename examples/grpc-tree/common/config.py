"""Load and check a process config (configs/process_X.json).

Bad input is handled in two ways:

- a missing or malformed ``circuit_breakers`` section is not fatal: the
  server starts with the documented defaults and says why;
- an invalid value (a threshold below 1, a timeout that is not a positive
  number, a non-loopback address, ...) is fatal: ``ConfigError`` with a clear
  message, and the server exits with status 2 before it binds anything.
"""

import ipaddress
import json
import math
from typing import Any, Dict, List, Tuple

# The defaults of the original system (and of CircuitBreaker's constructor).
DEFAULT_BREAKER = {
    "failure_threshold": 3,
    "open_timeout_seconds": 30.0,
    "success_threshold": 1,
}
ROLES = ("gateway", "team_leader", "worker")


class ConfigError(Exception):
    """The config cannot be used; the message says which field and why."""


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _loopback_host(where: str, host: Any) -> str:
    if not isinstance(host, str) or not host:
        raise ConfigError(f"{where}: host must be a non-empty string, got {host!r}")
    if host == "localhost":
        return host
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(
            f"{where}: host {host!r} is not a loopback address; this example only "
            "listens on and talks to 127.0.0.0/8, ::1 or localhost"
        )
    return host


def _port(where: str, port: Any) -> int:
    if not _is_int(port) or not 1 <= port <= 65535:
        raise ConfigError(f"{where}: port must be an integer in 1..65535, got {port!r}")
    return port


def address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _positive(where: str, value: Any, default: float) -> float:
    if value is None:
        return default
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{where} must be a positive number of seconds, got {value!r}")
    return value


def load(path: str) -> Dict[str, Any]:
    """Read and check the whole file; returns the parsed config."""
    try:
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: top level must be a JSON object")

    sid = cfg.get("id")
    if not isinstance(sid, str) or not sid:
        raise ConfigError("'id' must be a non-empty string (e.g. \"B\")")
    if cfg.get("role") not in ROLES:
        raise ConfigError(f"'role' must be one of {', '.join(ROLES)}; got {cfg.get('role')!r}")
    cfg["host"] = _loopback_host("'host'", cfg.get("host", "127.0.0.1"))
    _port("'port'", cfg.get("port"))

    data = cfg.get("data")
    if not isinstance(data, dict):
        raise ConfigError("'data' must be an object with rows, seed, start, days, stations")
    for key in ("rows", "seed", "days", "stations", "first_station"):
        v = data.get(key)
        if not _is_int(v) or v < 0 or (key in ("days", "stations") and v < 1):
            raise ConfigError(f"'data.{key}' must be a non-negative integer (days, stations >= 1), got {v!r}")
    if not isinstance(data.get("start"), str):
        raise ConfigError("'data.start' must be a date like \"2025-08-10\"")

    neighbors = cfg.get("neighbors", [])
    if not isinstance(neighbors, list):
        raise ConfigError("'neighbors' must be a list")
    seen = set()
    for i, n in enumerate(neighbors):
        where = f"'neighbors[{i}]'"
        if not isinstance(n, dict) or not isinstance(n.get("id"), str) or not n["id"]:
            raise ConfigError(f"{where} must be an object with an 'id' string")
        if n["id"] in seen or n["id"] == sid:
            raise ConfigError(f"{where}: duplicate or self neighbour {n['id']!r}")
        seen.add(n["id"])
        n["host"] = _loopback_host(where, n.get("host", "127.0.0.1"))
        _port(where, n.get("port"))
        if not isinstance(n.get("query", False), bool):
            raise ConfigError(f"{where}: 'query' must be true or false")

    cfg["rpc_timeout_seconds"] = _positive("'rpc_timeout_seconds'", cfg.get("rpc_timeout_seconds"), 2.0)
    cfg["health_check_interval_seconds"] = _positive(
        "'health_check_interval_seconds'", cfg.get("health_check_interval_seconds"), 1.0)
    return cfg


def query_neighbors(cfg: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [n for n in cfg.get("neighbors", []) if n.get("query", False)]


def breaker_settings(cfg: Dict[str, Any]) -> Tuple[Dict[str, Any], List[str]]:
    """The effective ``circuit_breakers`` settings and notes on any default used.

    Missing/malformed section -> defaults plus a note. Invalid values ->
    ConfigError. Unknown keys -> a note (a typo would otherwise go unseen).
    """
    notes: List[str] = []
    section = cfg.get("circuit_breakers")
    if section is None:
        notes.append("no 'circuit_breakers' section in the config")
        return dict(DEFAULT_BREAKER), notes
    if not isinstance(section, dict):
        notes.append(
            f"'circuit_breakers' is malformed (expected an object, got {type(section).__name__})"
        )
        return dict(DEFAULT_BREAKER), notes

    out = dict(DEFAULT_BREAKER)
    for key in sorted(set(section) - set(DEFAULT_BREAKER)):
        notes.append(f"unknown key 'circuit_breakers.{key}' ignored")
    for key in ("failure_threshold", "success_threshold"):
        if key not in section:
            notes.append(f"'circuit_breakers.{key}' missing")
            continue
        v = section[key]
        if not _is_int(v) or v < 1:
            raise ConfigError(
                f"'circuit_breakers.{key}' must be an integer >= 1, got {v!r}"
            )
        out[key] = v
    key = "open_timeout_seconds"
    if key not in section:
        notes.append(f"'circuit_breakers.{key}' missing")
    else:
        v = section[key]
        if not _is_number(v) or not math.isfinite(v) or v <= 0:
            raise ConfigError(
                f"'circuit_breakers.{key}' must be a positive number of seconds, got {v!r}"
            )
        out[key] = v
    return out, notes
